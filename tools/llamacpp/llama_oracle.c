// llama_oracle: drives llama.cpp's C API (the npm node-llama-cpp build) as a reference for Loom.
//
// Modes (all print one JSON object on stdout; llama.cpp's own log goes to stderr only with --verbose):
//   logits   MODEL PROMPT_FILE OUT_F32 [--threads N] [--greedy N]
//            Tokenizes the prompt as llama.cpp does (add_special = the vocab's add_bos/add_eos, parse_special),
//            decodes it in one batch with logits for every position (F32 KV cache, no flash attention), writes
//            those logits as raw little-endian f32 (T x V, row per position) to OUT_F32, then greedily decodes
//            N more tokens (default 32; argmax, lowest id on ties).
//            -> {"tokens":[..],"logits_shape":[T,V],"greedy":[..],"add_bos":b}
//   tokenize MODEL TEXT_FILE [--no-special]
//            -> {"tokens":[..]}
//   template MODEL|--file TEMPLATE_FILE [--no-add-ass] ROLE CONTENT [ROLE CONTENT ...]
//            Renders llama_chat_apply_template with the file's tokenizer.chat_template (or the template in a text
//            file). llama.cpp does not run Jinja here: it recognises the template family and formats it in C++.
//            -> {"text":"..."}
//   bench    MODEL [--threads N] [--pp 512] [--tg 128] [--reps 3]
//            Prompt processing of PP tokens (one batch) and generation of TG tokens after a 4-token prompt,
//            median of REPS runs after one warm-up; default context settings (F16 KV cache) as llama-bench.
//            -> {"pp_tokens_per_s":x,"tg_tokens_per_s":y}
// The backend folder (libggml-cpu-*.so) is taken from LLAMA_ORACLE_BINS, else from the folder of this executable's
// rpath given at build time (ORACLE_BINS).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <time.h>
#include "llama.h"
#include "ggml-backend.h"

#ifndef ORACLE_BINS
#define ORACLE_BINS "."
#endif

static int verbose = 0;

static void quiet_log(enum ggml_log_level level, const char * text, void * user) {
    (void)user;
    if (verbose || level == GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}

static void die(const char * msg, const char * detail) {
    fprintf(stderr, "llama_oracle: %s%s%s\n", msg, detail ? ": " : "", detail ? detail : "");
    exit(1);
}

static char * read_file(const char * path, long * len_out) {
    FILE * f = fopen(path, "rb");
    if (!f) die("cannot open", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char * buf = malloc((size_t)len + 1);
    if (fread(buf, 1, (size_t)len, f) != (size_t)len) die("cannot read", path);
    buf[len] = 0;
    fclose(f);
    *len_out = len;
    return buf;
}

static void init_backend(void) {
    llama_log_set(quiet_log, NULL);
    const char * bins = getenv("LLAMA_ORACLE_BINS");
    ggml_backend_load_all_from_path(bins ? bins : ORACLE_BINS);
    llama_backend_init();
}

static struct llama_model * load_model(const char * path, int vocab_only) {
    struct llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    mp.vocab_only = vocab_only != 0;
    struct llama_model * model = llama_model_load_from_file(path, mp);
    if (!model) die("cannot load model", path);
    return model;
}

static struct llama_context * make_context(struct llama_model * model, int n_ctx, int n_batch, int threads, int f32_kv) {
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (uint32_t)n_ctx;
    cp.n_batch = (uint32_t)n_batch;
    cp.n_ubatch = (uint32_t)n_batch;
    cp.n_seq_max = 1;
    cp.n_threads = threads;
    cp.n_threads_batch = threads;
    cp.no_perf = true;
    if (f32_kv) {
        cp.type_k = GGML_TYPE_F32;
        cp.type_v = GGML_TYPE_F32;
        cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    }
    struct llama_context * ctx = llama_init_from_model(model, cp);
    if (!ctx) die("cannot create context", NULL);
    return ctx;
}

static int tokenize(const struct llama_vocab * vocab, const char * text, int len, int add_special, llama_token ** out) {
    int cap = len + 16;
    llama_token * toks = malloc(sizeof(llama_token) * (size_t)cap);
    int n = llama_tokenize(vocab, text, len, toks, cap, add_special, true);
    if (n < 0) {
        cap = -n;
        toks = realloc(toks, sizeof(llama_token) * (size_t)cap);
        n = llama_tokenize(vocab, text, len, toks, cap, add_special, true);
        if (n < 0) die("tokenize failed", NULL);
    }
    *out = toks;
    return n;
}

static void print_ints(const char * name, const llama_token * v, int n) {
    printf("\"%s\":[", name);
    for (int i = 0; i < n; i++) printf(i ? ",%d" : "%d", v[i]);
    printf("]");
}

static int argmax(const float * row, int n) {
    int best = 0;
    for (int i = 1; i < n; i++) if (row[i] > row[best]) best = i;
    return best;
}

static int arg_int(int argc, char ** argv, const char * name, int def) {
    for (int i = 0; i + 1 < argc; i++) if (strcmp(argv[i], name) == 0) return atoi(argv[i + 1]);
    return def;
}

static int has_flag(int argc, char ** argv, const char * name) {
    for (int i = 0; i < argc; i++) if (strcmp(argv[i], name) == 0) return 1;
    return 0;
}

static void fill_batch(struct llama_batch * b, const llama_token * toks, int n, int pos0, int all_logits) {
    b->n_tokens = n;
    for (int i = 0; i < n; i++) {
        b->token[i] = toks[i];
        b->pos[i] = pos0 + i;
        b->n_seq_id[i] = 1;
        b->seq_id[i][0] = 0;
        b->logits[i] = (int8_t)(all_logits || i == n - 1);
    }
}

static int mode_logits(int argc, char ** argv) {
    if (argc < 5) die("usage: logits MODEL PROMPT_FILE OUT_F32 [--threads N] [--greedy N]", NULL);
    int threads = arg_int(argc, argv, "--threads", 2);
    int n_greedy = arg_int(argc, argv, "--greedy", 32);
    long plen;
    char * prompt = read_file(argv[3], &plen);
    struct llama_model * model = load_model(argv[2], 0);
    const struct llama_vocab * vocab = llama_model_get_vocab(model);
    int n_vocab = llama_vocab_n_tokens(vocab);
    llama_token * toks;
    int n = tokenize(vocab, prompt, (int)plen, 1, &toks);
    if (n == 0) die("prompt has no tokens", NULL);
    struct llama_context * ctx = make_context(model, n + n_greedy + 8, n + 8, threads, 1);

    struct llama_batch batch = llama_batch_init(n, 0, 1);
    fill_batch(&batch, toks, n, 0, 1);
    if (llama_decode(ctx, batch) != 0) die("decode of the prompt failed", NULL);
    FILE * f = fopen(argv[4], "wb");
    if (!f) die("cannot write", argv[4]);
    int last = 0;
    for (int i = 0; i < n; i++) {
        const float * row = llama_get_logits_ith(ctx, i);
        if (!row) die("no logits for a position", NULL);
        fwrite(row, sizeof(float), (size_t)n_vocab, f);
        if (i == n - 1) last = argmax(row, n_vocab);
    }
    fclose(f);

    llama_token * greedy = malloc(sizeof(llama_token) * (size_t)(n_greedy + 1));
    struct llama_batch one = llama_batch_init(1, 0, 1);
    for (int g = 0; g < n_greedy; g++) {
        greedy[g] = last;
        if (g == n_greedy - 1) break;
        fill_batch(&one, &greedy[g], 1, n + g, 1);
        if (llama_decode(ctx, one) != 0) die("decode of a generated token failed", NULL);
        last = argmax(llama_get_logits_ith(ctx, 0), n_vocab);
    }

    printf("{");
    print_ints("tokens", toks, n);
    printf(",\"logits_shape\":[%d,%d],", n, n_vocab);
    print_ints("greedy", greedy, n_greedy);
    printf(",\"add_bos\":%s}\n", llama_vocab_get_add_bos(vocab) ? "true" : "false");
    llama_batch_free(batch);
    llama_batch_free(one);
    llama_free(ctx);
    llama_model_free(model);
    return 0;
}

static int mode_tokenize(int argc, char ** argv) {
    if (argc < 4) die("usage: tokenize MODEL TEXT_FILE [--no-special]", NULL);
    long len;
    char * text = read_file(argv[3], &len);
    struct llama_model * model = load_model(argv[2], 1);
    llama_token * toks;
    int n = tokenize(llama_model_get_vocab(model), text, (int)len, !has_flag(argc, argv, "--no-special"), &toks);
    printf("{");
    print_ints("tokens", toks, n);
    printf("}\n");
    llama_model_free(model);
    return 0;
}

static void print_json_string(const char * s) {
    putchar('"');
    for (const unsigned char * p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') printf("\\%c", *p);
        else if (*p == '\n') printf("\\n");
        else if (*p == '\r') printf("\\r");
        else if (*p == '\t') printf("\\t");
        else if (*p < 0x20) printf("\\u%04x", *p);
        else putchar(*p);
    }
    putchar('"');
}

static int mode_template(int argc, char ** argv) {
    // template MODEL [...] or template --file TEMPLATE_FILE [...]: the template comes from the GGUF's
    // tokenizer.chat_template or from a text file.
    int first = 3;
    struct llama_model * model = NULL;
    const char * tmpl;
    if (argc >= 4 && strcmp(argv[2], "--file") == 0) {
        long tlen;
        tmpl = read_file(argv[3], &tlen);
        first = 4;
    } else {
        if (argc < 3) die("usage: template MODEL|--file TEMPLATE_FILE [--no-add-ass] ROLE CONTENT ...", NULL);
        model = load_model(argv[2], 1);
        tmpl = llama_model_chat_template(model, NULL);
        if (!tmpl) die("the file has no tokenizer.chat_template", argv[2]);
    }
    int add_ass = 1;
    if (argc > first && strcmp(argv[first], "--no-add-ass") == 0) { add_ass = 0; first++; }
    int n_msg = (argc - first) / 2;
    struct llama_chat_message * msgs = calloc((size_t)(n_msg + 1), sizeof *msgs);
    long total = 0;
    for (int i = 0; i < n_msg; i++) {
        msgs[i].role = argv[first + 2 * i];
        msgs[i].content = argv[first + 2 * i + 1];
        total += (long)strlen(msgs[i].content) + 64;
    }
    int cap = (int)(total * 2 + 4096);
    char * buf = malloc((size_t)cap);
    int n = llama_chat_apply_template(tmpl, msgs, (size_t)n_msg, add_ass, buf, cap);
    if (n < 0) die("llama_chat_apply_template does not support this template", NULL);
    if (n >= cap) { cap = n + 1; buf = realloc(buf, (size_t)cap); n = llama_chat_apply_template(tmpl, msgs, (size_t)n_msg, add_ass, buf, cap); }
    buf[n] = 0;
    printf("{\"text\":");
    print_json_string(buf);
    printf("}\n");
    if (model) llama_model_free(model);
    return 0;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void * a, const void * b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double * v, int n) {
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static int mode_bench(int argc, char ** argv) {
    if (argc < 3) die("usage: bench MODEL [--threads N] [--pp 512] [--tg 128] [--reps 3]", NULL);
    int threads = arg_int(argc, argv, "--threads", 2);
    int pp = arg_int(argc, argv, "--pp", 512);
    int tg = arg_int(argc, argv, "--tg", 128);
    int reps = arg_int(argc, argv, "--reps", 3);
    if (pp < 1 || tg < 1 || reps < 1 || threads < 1) die("--pp, --tg, --reps and --threads must be positive", NULL);
    const int prompt_len = 4;
    struct llama_model * model = load_model(argv[2], 0);
    const struct llama_vocab * vocab = llama_model_get_vocab(model);
    int n_vocab = llama_vocab_n_tokens(vocab);
    int n_ctx = (pp > prompt_len + tg ? pp : prompt_len + tg) + 16;
    struct llama_context * ctx = make_context(model, n_ctx, pp, threads, 0);
    llama_memory_t mem = llama_get_memory(ctx);

    // Fixed pseudo-random token ids (the content does not change the cost).
    llama_token * toks = malloc(sizeof(llama_token) * (size_t)pp);
    uint32_t state = 12345;
    for (int i = 0; i < pp; i++) { state = state * 1664525u + 1013904223u; toks[i] = (llama_token)(state % (uint32_t)n_vocab); }
    struct llama_batch batch = llama_batch_init(pp, 0, 1);
    double * pp_rates = malloc(sizeof(double) * (size_t)reps);
    double * tg_rates = malloc(sizeof(double) * (size_t)reps);
    for (int r = -1; r < reps; r++) {
        // Prompt processing: one batch of pp tokens, logits for the last only.
        llama_memory_clear(mem, true);
        fill_batch(&batch, toks, pp, 0, 0);
        double t0 = now_s();
        if (llama_decode(ctx, batch) != 0) die("decode failed (pp)", NULL);
        llama_synchronize(ctx);
        double t_pp = now_s() - t0;
        // Generation: a short prompt, then tg single-token steps fed back greedily.
        llama_memory_clear(mem, true);
        fill_batch(&batch, toks, prompt_len, 0, 0);
        if (llama_decode(ctx, batch) != 0) die("decode failed (prompt)", NULL);
        llama_token next = (llama_token)argmax(llama_get_logits_ith(ctx, -1), n_vocab);
        t0 = now_s();
        for (int g = 0; g < tg; g++) {
            fill_batch(&batch, &next, 1, prompt_len + g, 1);
            if (llama_decode(ctx, batch) != 0) die("decode failed (tg)", NULL);
            next = (llama_token)argmax(llama_get_logits_ith(ctx, -1), n_vocab);
        }
        double t_tg = now_s() - t0;
        if (r >= 0) { pp_rates[r] = pp / t_pp; tg_rates[r] = tg / t_tg; }
    }
    printf("{\"pp_tokens_per_s\":%.3f,\"tg_tokens_per_s\":%.3f,\"threads\":%d,\"pp\":%d,\"tg\":%d,\"reps\":%d}\n",
           median(pp_rates, reps), median(tg_rates, reps), threads, pp, tg, reps);
    llama_batch_free(batch);
    llama_free(ctx);
    llama_model_free(model);
    return 0;
}

int main(int argc, char ** argv) {
    verbose = has_flag(argc, argv, "--verbose");
    if (argc < 2) die("usage: llama_oracle logits|tokenize|template|bench ...", NULL);
    init_backend();
    if (strcmp(argv[1], "logits") == 0) return mode_logits(argc, argv);
    if (strcmp(argv[1], "tokenize") == 0) return mode_tokenize(argc, argv);
    if (strcmp(argv[1], "template") == 0) return mode_template(argc, argv);
    if (strcmp(argv[1], "bench") == 0) return mode_bench(argc, argv);
    die("unknown mode", argv[1]);
    return 1;
}
