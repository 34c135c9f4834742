// ggml's own quantized matmul speed (the CPU backend's mul_mat, as llama.cpp runs it) for `loom bench quant`
// comparisons: W (rows x cols) in a ggml type times X (tokens x cols) f32. Prints one line per case:
//   TYPE rows cols tokens threads median_wall_ms min_thread_cpu_ms
// Usage: quant_bench BINS_DIR rows cols TYPES(comma list, e.g. q8_0,q4_K) TOKENS(comma list) THREADS(comma list) reps
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ggml.h"
#include "ggml-cpu.h"

typedef enum ggml_status (*compute_fn)(struct ggml_context *, struct ggml_cgraph *, int);
typedef void (*cpu_init_fn)(void);

static double now_ms(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }
static double cpu_ms(void) { struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }
static int cmp(const void * a, const void * b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }

static enum ggml_type type_of(const char * s) {
    for (int t = 0; t < GGML_TYPE_COUNT; t++) {
        const char * n = ggml_type_name((enum ggml_type)t);
        if (n && strcasecmp(n, s) == 0) return (enum ggml_type)t;
    }
    fprintf(stderr, "unknown type %s\n", s); exit(2);
}

int main(int argc, char ** argv) {
    if (argc != 8) { fprintf(stderr, "usage: %s BINS rows cols TYPES TOKENS THREADS reps\n", argv[0]); return 2; }
    char path[4096];
    snprintf(path, sizeof path, "%s/libggml-cpu-haswell.so", argv[1]);
    void * cpu = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!cpu) { fprintf(stderr, "dlopen %s: %s\n", path, dlerror()); return 1; }
    compute_fn compute = (compute_fn)dlsym(cpu, "ggml_graph_compute_with_ctx");
    cpu_init_fn cpu_init = (cpu_init_fn)dlsym(cpu, "ggml_cpu_init");
    if (!compute || !cpu_init) { fprintf(stderr, "missing CPU symbols\n"); return 1; }
    cpu_init();
    int rows = atoi(argv[2]), cols = atoi(argv[3]), reps = atoi(argv[7]);
    char types[1024], toks[1024], thr[1024];
    snprintf(types, sizeof types, "%s", argv[4]);
    float * w = malloc(sizeof(float) * (size_t)rows * cols);
    uint64_t r = 42;
    for (size_t i = 0; i < (size_t)rows * cols; i++) { r = r * 6364136223846793005ull + 1442695040888963407ull; w[i] = ((r >> 40) / 16777216.0f * 2 - 1) * 0.05f; }
    for (char * ts = strtok(types, ","); ts; ts = strtok(NULL, ",")) {
        enum ggml_type type = type_of(ts);
        snprintf(toks, sizeof toks, "%s", argv[5]);
        char * save1;
        for (char * tk = strtok_r(toks, ",", &save1); tk; tk = strtok_r(NULL, ",", &save1)) {
            int tokens = atoi(tk);
            snprintf(thr, sizeof thr, "%s", argv[6]);
            char * save2;
            for (char * th = strtok_r(thr, ",", &save2); th; th = strtok_r(NULL, ",", &save2)) {
                int threads = atoi(th);
                size_t mem = ggml_row_size(type, cols) * rows + (size_t)tokens * cols * 8 + (size_t)tokens * rows * 4 + (64u << 20);
                struct ggml_init_params ip = { mem, NULL, false };
                struct ggml_context * ctx = ggml_init(ip);
                struct ggml_tensor * W = ggml_new_tensor_2d(ctx, type, cols, rows);
                struct ggml_tensor * X = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, cols, tokens);
                ggml_quantize_chunk(type, w, W->data, 0, rows, cols, NULL);
                float * xd = (float *)X->data;
                for (size_t i = 0; i < (size_t)tokens * cols; i++) { r = r * 6364136223846793005ull + 1442695040888963407ull; xd[i] = (r >> 40) / 16777216.0f * 2 - 1; }
                struct ggml_tensor * Y = ggml_mul_mat(ctx, W, X);
                struct ggml_cgraph * g = ggml_new_graph(ctx);
                ggml_build_forward_expand(g, Y);
                compute(ctx, g, threads); // warm-up
                double * t = malloc(sizeof(double) * reps);
                double * c = malloc(sizeof(double) * reps);
                for (int i = 0; i < reps; i++) {
                    double t0 = now_ms(), c0 = cpu_ms();
                    compute(ctx, g, threads);
                    t[i] = now_ms() - t0; c[i] = cpu_ms() - c0;
                }
                qsort(t, reps, sizeof(double), cmp);
                qsort(c, reps, sizeof(double), cmp);
                // wall-clock median, and (meaningful with 1 thread) the calling thread's CPU time, minimum
                printf("%s %d %d %d %d %.4f %.4f\n", ggml_type_name(type), rows, cols, tokens, threads, t[reps / 2], c[0]);
                fflush(stdout);
                free(t); free(c);
                ggml_free(ctx);
            }
        }
    }
    return 0;
}
