// Records ggml's own quantization, dequantization and dot products for Loom's quant tests.
// For each type: writes OUT_DIR/<TYPE>.lqf holding
//   "LQF1", u32 type, u32 rows, u32 cols, u32 vec_dot_type,
//   f32 input[rows*cols], u8 quantized[rows*row_bytes] (ggml_quantize_chunk, no imatrix),
//   f32 dequantized[rows*cols] (type traits to_float), f32 activation[cols],
//   u8 activation_quantized[vec_dot_row_bytes] (CPU from_float), f32 dot[rows] (CPU vec_dot).
// Usage: quant_oracle BINS_DIR OUT_DIR
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ggml.h"
#include "ggml-cpu.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static double uniform(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return ((rng >> 11) + 0.5) / 9007199254740992.0;
}
static float normal(void) { return (float)(sqrt(-2.0 * log(uniform())) * cos(6.283185307179586 * uniform())); }

typedef const struct ggml_type_traits_cpu * (*traits_cpu_fn)(enum ggml_type);
typedef void (*cpu_init_fn)(void);

int main(int argc, char ** argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s BINS_DIR OUT_DIR\n", argv[0]); return 2; }
    char path[4096];
    snprintf(path, sizeof path, "%s/libggml-cpu-haswell.so", argv[1]);
    void * cpu = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!cpu) { fprintf(stderr, "dlopen %s: %s\n", path, dlerror()); return 1; }
    traits_cpu_fn traits_cpu = (traits_cpu_fn)dlsym(cpu, "ggml_get_type_traits_cpu");
    cpu_init_fn cpu_init = (cpu_init_fn)dlsym(cpu, "ggml_cpu_init");
    if (!traits_cpu || !cpu_init) { fprintf(stderr, "missing CPU symbols\n"); return 1; }
    cpu_init();

    const enum ggml_type types[] = { GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_BF16, GGML_TYPE_Q8_0, GGML_TYPE_Q4_0,
        GGML_TYPE_Q4_1, GGML_TYPE_Q5_0, GGML_TYPE_Q5_1, GGML_TYPE_Q2_K, GGML_TYPE_Q3_K, GGML_TYPE_Q4_K,
        GGML_TYPE_Q5_K, GGML_TYPE_Q6_K };
    const int rows = 4, cols = 512;
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        enum ggml_type type = types[t];
        float * x = malloc(sizeof(float) * rows * cols);
        // Row 0: N(0,1). Row 1: small values with a few outliers. Row 2: uniform, positive-biased.
        // Row 3: first 256 elements zero (exercises the all-zero block paths), then N(0, 0.02).
        for (int i = 0; i < cols; i++) x[i] = normal();
        for (int i = 0; i < cols; i++) x[cols + i] = 0.01f * normal() + ((i % 97) == 5 ? 3.0f * normal() : 0.0f);
        for (int i = 0; i < cols; i++) x[2 * cols + i] = (float)(uniform() * 1.5 - 0.25);
        for (int i = 0; i < cols; i++) x[3 * cols + i] = i < 256 ? 0.0f : 0.02f * normal();
        size_t row_bytes = ggml_row_size(type, cols);
        uint8_t * q = malloc(row_bytes * rows);
        ggml_quantize_chunk(type, x, q, 0, rows, cols, NULL);
        float * dq = malloc(sizeof(float) * rows * cols);
        if (ggml_get_type_traits(type)->to_float) ggml_get_type_traits(type)->to_float(q, dq, (int64_t)rows * cols);
        else memcpy(dq, q, sizeof(float) * rows * cols); // F32

        const struct ggml_type_traits_cpu * tc = traits_cpu(type);
        enum ggml_type vt = tc->vec_dot_type;
        float * act = malloc(sizeof(float) * cols);
        for (int i = 0; i < cols; i++) act[i] = normal();
        size_t act_bytes = ggml_row_size(vt, cols);
        uint8_t * aq = malloc(act_bytes);
        const struct ggml_type_traits_cpu * tv = traits_cpu(vt);
        if (vt != GGML_TYPE_F32 && tv->from_float) tv->from_float(act, aq, cols);
        else memcpy(aq, act, act_bytes); // F32
        float dots[4];
        for (int r = 0; r < rows; r++) tc->vec_dot(cols, &dots[r], 0, q + r * row_bytes, 0, aq, 0, 1);

        snprintf(path, sizeof path, "%s/%s.lqf", argv[2], ggml_type_name(type));
        FILE * f = fopen(path, "wb");
        if (!f) { perror(path); return 1; }
        uint32_t hdr[4] = { (uint32_t)type, (uint32_t)rows, (uint32_t)cols, (uint32_t)vt };
        fwrite("LQF1", 1, 4, f);
        fwrite(hdr, 4, 4, f);
        fwrite(x, sizeof(float), rows * cols, f);
        fwrite(q, 1, row_bytes * rows, f);
        fwrite(dq, sizeof(float), rows * cols, f);
        fwrite(act, sizeof(float), cols, f);
        fwrite(aq, 1, act_bytes, f);
        fwrite(dots, sizeof(float), rows, f);
        fclose(f);
        printf("%-5s row_bytes=%zu vec_dot_type=%s dots=%g %g %g %g\n", ggml_type_name(type), row_bytes,
               ggml_type_name(vt), dots[0], dots[1], dots[2], dots[3]);
        free(x); free(q); free(dq); free(act); free(aq);
    }
    return 0;
}
