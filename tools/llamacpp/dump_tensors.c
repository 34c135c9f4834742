// dump_tensors MODEL PROMPT_FILE OUT_DIR [--threads N] [--decode K]: llama.cpp's intermediate tensors (cb_eval) of the prompt batch (F32 KV cache, no flash attention), or with --decode K of the K-th greedy single-token step, as OUT_DIR/NAME.f32 (contiguous f32, ne0 fastest) + OUT_DIR/index.tsv (name type ne0..ne3).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "llama.h"
#include "ggml.h"
#include "ggml-backend.h"

#ifndef ORACLE_BINS
#define ORACLE_BINS "."
#endif

struct dump { const char * dir; FILE * index; int active; char seen[4096][64]; int counts[4096]; int n_seen; };

static void quiet_log(enum ggml_log_level level, const char * text, void * user) { (void)user; if (level == GGML_LOG_LEVEL_ERROR) fputs(text, stderr); }

static float get_f32(const struct ggml_tensor * t, const char * base, int64_t i0, int64_t i1, int64_t i2, int64_t i3) {
    const char * p = base + i0 * t->nb[0] + i1 * t->nb[1] + i2 * t->nb[2] + i3 * t->nb[3];
    switch (t->type) {
        case GGML_TYPE_F32: return *(const float *)p;
        case GGML_TYPE_F16: return ggml_fp16_to_fp32(*(const ggml_fp16_t *)p);
        case GGML_TYPE_BF16: return ggml_bf16_to_fp32(*(const ggml_bf16_t *)p);
        case GGML_TYPE_I32: return (float)*(const int32_t *)p;
        default: return 0;
    }
}

static bool cb(struct ggml_tensor * t, bool ask, void * user) {
    struct dump * d = user;
    if (ask) return d->active;
    if (!d->active) return true;
    if (t->type != GGML_TYPE_F32 && t->type != GGML_TYPE_F16 && t->type != GGML_TYPE_BF16 && t->type != GGML_TYPE_I32) return true;
    int k = 0;
    for (; k < d->n_seen; k++) if (strcmp(d->seen[k], t->name) == 0) break;
    if (k == d->n_seen && d->n_seen < 4096) { snprintf(d->seen[k], 64, "%s", t->name); d->counts[k] = 0; d->n_seen++; }
    char name[160];
    if (d->counts[k]++ == 0) snprintf(name, sizeof name, "%s", t->name);
    else snprintf(name, sizeof name, "%s#%d", t->name, d->counts[k] - 1);
    size_t nbytes = ggml_nbytes(t);
    char * buf = malloc(nbytes);
    ggml_backend_tensor_get(t, buf, 0, nbytes);
    // the copy keeps the strides relative to the tensor's first byte
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.f32", d->dir, name);
    FILE * f = fopen(path, "wb");
    for (int64_t i3 = 0; i3 < t->ne[3]; i3++) for (int64_t i2 = 0; i2 < t->ne[2]; i2++)
    for (int64_t i1 = 0; i1 < t->ne[1]; i1++) for (int64_t i0 = 0; i0 < t->ne[0]; i0++) {
        float v = get_f32(t, buf, i0, i1, i2, i3);
        fwrite(&v, 4, 1, f);
    }
    fclose(f);
    free(buf);
    fprintf(d->index, "%s\t%s\t%s\t%lld\t%lld\t%lld\t%lld\n", name, ggml_type_name(t->type), ggml_op_desc(t),
            (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3]);
    return true;
}

int main(int argc, char ** argv) {
    if (argc < 4) { fprintf(stderr, "usage: dump_tensors MODEL PROMPT_FILE OUT_DIR [--threads N] [--decode K]\n"); return 2; }
    int threads = 2, decode = 0;
    for (int i = 4; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "--decode")) decode = atoi(argv[i + 1]);
    }
    llama_log_set(quiet_log, NULL);
    const char * bins = getenv("LLAMA_ORACLE_BINS");
    ggml_backend_load_all_from_path(bins ? bins : ORACLE_BINS);
    llama_backend_init();
    FILE * pf = fopen(argv[2], "rb");
    if (!pf) { perror(argv[2]); return 1; }
    char text[65536];
    int len = (int)fread(text, 1, sizeof text - 1, pf);
    fclose(pf);
    struct llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    struct llama_model * model = llama_model_load_from_file(argv[1], mp);
    if (!model) return 1;
    const struct llama_vocab * vocab = llama_model_get_vocab(model);
    int n_vocab = llama_vocab_n_tokens(vocab);
    llama_token toks[4096];
    int n = llama_tokenize(vocab, text, len, toks, 4096, true, true);
    static struct dump d;
    d.dir = argv[3];
    char ipath[4200];
    snprintf(ipath, sizeof ipath, "%s/index.tsv", d.dir);
    d.index = fopen(ipath, "w");
    if (!d.index) { perror(ipath); return 1; }
    d.active = decode == 0;
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (uint32_t)(n + decode + 8);
    cp.n_batch = cp.n_ubatch = (uint32_t)(n + 8);
    cp.n_seq_max = 1;
    cp.n_threads = cp.n_threads_batch = threads;
    cp.type_k = cp.type_v = GGML_TYPE_F32;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    cp.cb_eval = cb;
    cp.cb_eval_user_data = &d;
    struct llama_context * ctx = llama_init_from_model(model, cp);
    struct llama_batch b = llama_batch_init(n, 0, 1);
    b.n_tokens = n;
    for (int i = 0; i < n; i++) { b.token[i] = toks[i]; b.pos[i] = i; b.n_seq_id[i] = 1; b.seq_id[i][0] = 0; b.logits[i] = 1; }
    if (llama_decode(ctx, b)) return 1;
    const float * row = llama_get_logits_ith(ctx, n - 1);
    int last = 0;
    for (int i = 1; i < n_vocab; i++) if (row[i] > row[last]) last = i;
    printf("tokens:");
    for (int i = 0; i < n; i++) printf(" %d", toks[i]);
    printf("\ngreedy: %d", last);
    for (int s = 1; s <= decode; s++) {
        d.active = s == decode;
        b.n_tokens = 1; b.token[0] = last; b.pos[0] = n + s - 1; b.logits[0] = 1;
        if (llama_decode(ctx, b)) return 1;
        row = llama_get_logits_ith(ctx, 0);
        last = 0;
        for (int i = 1; i < n_vocab; i++) if (row[i] > row[last]) last = i;
        printf(" %d", last);
    }
    printf("\n");
    fclose(d.index);
    llama_free(ctx);
    llama_model_free(model);
    return 0;
}
