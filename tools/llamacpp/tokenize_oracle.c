// Prints llama.cpp's tokenization of a text file as JSON, for Loom's tokenizer fixtures.
// Usage: tokenize_oracle BINS_DIR MODEL.gguf TEXT_FILE [--cases]
//   Loads MODEL.gguf with vocab_only and prints
//   {"special":[ids],"plain":[ids],"pieces":{"id":"hex",...}}
//   where "special" is llama_tokenize(text, add_special=true, parse_special=true), "plain" the same with
//   parse_special=false, and "pieces" llama_token_to_piece(id, special=true) of every id that occurs, as hex.
//   With --cases the file is llama.cpp's ggml-vocab-*.gguf.inp format (texts separated by
//   "\n__ggml_vocab_test__\n") and it prints {"cases":[[ids],...]} with add_special=false, parse_special=false,
//   as llama.cpp's test-tokenizer-0 does.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "llama.h"
#include "ggml-backend.h"

static char * read_file(const char * path, long * n) {
    FILE * f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "cannot open %s\n", path); exit(1); }
    fseek(f, 0, SEEK_END); *n = ftell(f); fseek(f, 0, SEEK_SET);
    char * buf = malloc(*n + 1);
    if (fread(buf, 1, *n, f) != (size_t)*n) { fprintf(stderr, "cannot read %s\n", path); exit(1); }
    buf[*n] = 0;
    fclose(f);
    return buf;
}

static int tokenize(const struct llama_vocab * vocab, const char * text, int len, bool add_special, bool parse_special, llama_token ** out) {
    int cap = len + 16;
    *out = malloc(sizeof(llama_token) * cap);
    int n = llama_tokenize(vocab, text, len, *out, cap, add_special, parse_special);
    if (n < 0) { *out = realloc(*out, sizeof(llama_token) * -n); n = llama_tokenize(vocab, text, len, *out, -n, add_special, parse_special); }
    return n;
}

static void print_ids(const llama_token * ids, int n) {
    putchar('[');
    for (int i = 0; i < n; i++) printf(i ? ",%d" : "%d", ids[i]);
    putchar(']');
}

int main(int argc, char ** argv) {
    if (argc < 4) { fprintf(stderr, "usage: %s BINS_DIR MODEL.gguf TEXT_FILE [--cases]\n", argv[0]); return 2; }
    ggml_backend_load_all_from_path(argv[1]);
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    mp.vocab_only = true;
    struct llama_model * model = llama_model_load_from_file(argv[2], mp);
    if (!model) { fprintf(stderr, "cannot load %s\n", argv[2]); return 1; }
    const struct llama_vocab * vocab = llama_model_get_vocab(model);
    long len;
    char * text = read_file(argv[3], &len);
    if (argc > 4 && strcmp(argv[4], "--cases") == 0) {
        const char * sep = "\n__ggml_vocab_test__\n";
        printf("{\"cases\":[");
        char * p = text; int first = 1;
        // llama.cpp's test reader drops the text before the first separator's leading newline handling the same way:
        // cases are the pieces between separators; the last piece ends at the file's end (its trailing newline removed).
        while (1) {
            char * q = strstr(p, sep);
            int n = q ? (int)(q - p) : (int)strlen(p);
            if (!q && n == 0) break;
            llama_token * ids; int m = tokenize(vocab, p, n, false, false, &ids);
            if (!first) putchar(',');
            print_ids(ids, m); free(ids); first = 0;
            if (!q) break;
            p = q + strlen(sep);
        }
        printf("]}\n");
        return 0;
    }
    llama_token * sp; int nsp = tokenize(vocab, text, (int)len, true, true, &sp);
    llama_token * pl; int npl = tokenize(vocab, text, (int)len, true, false, &pl);
    printf("{\"special\":"); print_ids(sp, nsp);
    printf(",\"plain\":"); print_ids(pl, npl);
    printf(",\"pieces\":{");
    int n_vocab = llama_vocab_n_tokens(vocab);
    char * seen = calloc(n_vocab, 1);
    int first = 1;
    for (int pass = 0; pass < 2; pass++) {
        const llama_token * ids = pass ? pl : sp; int n = pass ? npl : nsp;
        for (int i = 0; i < n; i++) {
            if (seen[ids[i]]) continue;
            seen[ids[i]] = 1;
            char buf[1024];
            int m = llama_token_to_piece(vocab, ids[i], buf, sizeof buf, 0, true);
            if (m < 0) { fprintf(stderr, "piece of %d too long\n", ids[i]); return 1; }
            printf(first ? "\"%d\":\"" : ",\"%d\":\"", ids[i]); first = 0;
            for (int k = 0; k < m; k++) printf("%02x", (unsigned char)buf[k]);
            putchar('"');
        }
    }
    printf("}}\n");
    llama_model_free(model);
    return 0;
}
