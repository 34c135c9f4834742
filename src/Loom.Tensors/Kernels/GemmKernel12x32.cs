using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Loom.Tensors.Kernels;

/// <summary>AVX-512 GEMM micro-kernel: a 12x32 tile of C in 24 zmm accumulators.</summary>
/// <remarks>
/// 24 accumulators + 2 B vectors + broadcasts fit in the 32 zmm registers with room to spare, so the JIT
/// does not spill; 24 independent FMA chains cover the 4-cycle FMA latency on two 512-bit pipes (Zen 5).
/// Written with the portable Vector512 API so tests can run it (emulated) on machines without AVX-512.
/// </remarks>
internal readonly unsafe struct GemmKernel12x32 : IGemmMicroKernel
{
    public static int MR => 12;
    public static int NR => 32;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta)
    {
        // The C tile is touched only after the k loop: prefetch its lines now so the misses overlap the FMAs
        // (C is far larger than the caches for big problems, and is re-read once per KC block).
        if (Sse.IsSupported)
        {
            { float* r = c + 0 * ldc; Sse.Prefetch0(r); Sse.Prefetch0(r + 31); }
            { float* r = c + 1 * ldc; Sse.Prefetch0(r); Sse.Prefetch0(r + 31); }
            { float* r = c + 2 * ldc; Sse.Prefetch0(r); Sse.Prefetch0(r + 31); }
            { float* r = c + 3 * ldc; Sse.Prefetch0(r); Sse.Prefetch0(r + 31); }
            { float* r = c + 4 * ldc; Sse.Prefetch0(r); Sse.Prefetch0(r + 31); }
            { float* r = c + 5 * ldc; Sse.Prefetch0(r); Sse.Prefetch0(r + 31); }
            { float* r = c + 6 * ldc; Sse.Prefetch0(r); Sse.Prefetch0(r + 31); }
            { float* r = c + 7 * ldc; Sse.Prefetch0(r); Sse.Prefetch0(r + 31); }
            { float* r = c + 8 * ldc; Sse.Prefetch0(r); Sse.Prefetch0(r + 31); }
            { float* r = c + 9 * ldc; Sse.Prefetch0(r); Sse.Prefetch0(r + 31); }
            { float* r = c + 10 * ldc; Sse.Prefetch0(r); Sse.Prefetch0(r + 31); }
            { float* r = c + 11 * ldc; Sse.Prefetch0(r); Sse.Prefetch0(r + 31); }
        }
        // One local per accumulator (no arrays of vectors) so the JIT keeps all of them in registers.
        Vector512<float> c00 = default; Vector512<float> c01 = default;
        Vector512<float> c10 = default; Vector512<float> c11 = default;
        Vector512<float> c20 = default; Vector512<float> c21 = default;
        Vector512<float> c30 = default; Vector512<float> c31 = default;
        Vector512<float> c40 = default; Vector512<float> c41 = default;
        Vector512<float> c50 = default; Vector512<float> c51 = default;
        Vector512<float> c60 = default; Vector512<float> c61 = default;
        Vector512<float> c70 = default; Vector512<float> c71 = default;
        Vector512<float> c80 = default; Vector512<float> c81 = default;
        Vector512<float> c90 = default; Vector512<float> c91 = default;
        Vector512<float> c100 = default; Vector512<float> c101 = default;
        Vector512<float> c110 = default; Vector512<float> c111 = default;
        int p = 0;
        // Unrolled by 2: the loop overhead is then small next to 48 FMAs.
        for (; p + 2 <= kc; p += 2)
        {
            {
                var b0 = Vector512.Load(b);
                var b1 = Vector512.Load(b + 16);
                { var ai = Vector512.Create(a[0]); c00 = Vector512.FusedMultiplyAdd(ai, b0, c00); c01 = Vector512.FusedMultiplyAdd(ai, b1, c01); }
                { var ai = Vector512.Create(a[1]); c10 = Vector512.FusedMultiplyAdd(ai, b0, c10); c11 = Vector512.FusedMultiplyAdd(ai, b1, c11); }
                { var ai = Vector512.Create(a[2]); c20 = Vector512.FusedMultiplyAdd(ai, b0, c20); c21 = Vector512.FusedMultiplyAdd(ai, b1, c21); }
                { var ai = Vector512.Create(a[3]); c30 = Vector512.FusedMultiplyAdd(ai, b0, c30); c31 = Vector512.FusedMultiplyAdd(ai, b1, c31); }
                { var ai = Vector512.Create(a[4]); c40 = Vector512.FusedMultiplyAdd(ai, b0, c40); c41 = Vector512.FusedMultiplyAdd(ai, b1, c41); }
                { var ai = Vector512.Create(a[5]); c50 = Vector512.FusedMultiplyAdd(ai, b0, c50); c51 = Vector512.FusedMultiplyAdd(ai, b1, c51); }
                { var ai = Vector512.Create(a[6]); c60 = Vector512.FusedMultiplyAdd(ai, b0, c60); c61 = Vector512.FusedMultiplyAdd(ai, b1, c61); }
                { var ai = Vector512.Create(a[7]); c70 = Vector512.FusedMultiplyAdd(ai, b0, c70); c71 = Vector512.FusedMultiplyAdd(ai, b1, c71); }
                { var ai = Vector512.Create(a[8]); c80 = Vector512.FusedMultiplyAdd(ai, b0, c80); c81 = Vector512.FusedMultiplyAdd(ai, b1, c81); }
                { var ai = Vector512.Create(a[9]); c90 = Vector512.FusedMultiplyAdd(ai, b0, c90); c91 = Vector512.FusedMultiplyAdd(ai, b1, c91); }
                { var ai = Vector512.Create(a[10]); c100 = Vector512.FusedMultiplyAdd(ai, b0, c100); c101 = Vector512.FusedMultiplyAdd(ai, b1, c101); }
                { var ai = Vector512.Create(a[11]); c110 = Vector512.FusedMultiplyAdd(ai, b0, c110); c111 = Vector512.FusedMultiplyAdd(ai, b1, c111); }
            }
            {
                var b0 = Vector512.Load(b + 32);
                var b1 = Vector512.Load(b + 48);
                { var ai = Vector512.Create(a[12]); c00 = Vector512.FusedMultiplyAdd(ai, b0, c00); c01 = Vector512.FusedMultiplyAdd(ai, b1, c01); }
                { var ai = Vector512.Create(a[13]); c10 = Vector512.FusedMultiplyAdd(ai, b0, c10); c11 = Vector512.FusedMultiplyAdd(ai, b1, c11); }
                { var ai = Vector512.Create(a[14]); c20 = Vector512.FusedMultiplyAdd(ai, b0, c20); c21 = Vector512.FusedMultiplyAdd(ai, b1, c21); }
                { var ai = Vector512.Create(a[15]); c30 = Vector512.FusedMultiplyAdd(ai, b0, c30); c31 = Vector512.FusedMultiplyAdd(ai, b1, c31); }
                { var ai = Vector512.Create(a[16]); c40 = Vector512.FusedMultiplyAdd(ai, b0, c40); c41 = Vector512.FusedMultiplyAdd(ai, b1, c41); }
                { var ai = Vector512.Create(a[17]); c50 = Vector512.FusedMultiplyAdd(ai, b0, c50); c51 = Vector512.FusedMultiplyAdd(ai, b1, c51); }
                { var ai = Vector512.Create(a[18]); c60 = Vector512.FusedMultiplyAdd(ai, b0, c60); c61 = Vector512.FusedMultiplyAdd(ai, b1, c61); }
                { var ai = Vector512.Create(a[19]); c70 = Vector512.FusedMultiplyAdd(ai, b0, c70); c71 = Vector512.FusedMultiplyAdd(ai, b1, c71); }
                { var ai = Vector512.Create(a[20]); c80 = Vector512.FusedMultiplyAdd(ai, b0, c80); c81 = Vector512.FusedMultiplyAdd(ai, b1, c81); }
                { var ai = Vector512.Create(a[21]); c90 = Vector512.FusedMultiplyAdd(ai, b0, c90); c91 = Vector512.FusedMultiplyAdd(ai, b1, c91); }
                { var ai = Vector512.Create(a[22]); c100 = Vector512.FusedMultiplyAdd(ai, b0, c100); c101 = Vector512.FusedMultiplyAdd(ai, b1, c101); }
                { var ai = Vector512.Create(a[23]); c110 = Vector512.FusedMultiplyAdd(ai, b0, c110); c111 = Vector512.FusedMultiplyAdd(ai, b1, c111); }
            }
            a += 24;
            b += 64;
        }
        for (; p < kc; p++)
        {
            {
                var b0 = Vector512.Load(b);
                var b1 = Vector512.Load(b + 16);
                { var ai = Vector512.Create(a[0]); c00 = Vector512.FusedMultiplyAdd(ai, b0, c00); c01 = Vector512.FusedMultiplyAdd(ai, b1, c01); }
                { var ai = Vector512.Create(a[1]); c10 = Vector512.FusedMultiplyAdd(ai, b0, c10); c11 = Vector512.FusedMultiplyAdd(ai, b1, c11); }
                { var ai = Vector512.Create(a[2]); c20 = Vector512.FusedMultiplyAdd(ai, b0, c20); c21 = Vector512.FusedMultiplyAdd(ai, b1, c21); }
                { var ai = Vector512.Create(a[3]); c30 = Vector512.FusedMultiplyAdd(ai, b0, c30); c31 = Vector512.FusedMultiplyAdd(ai, b1, c31); }
                { var ai = Vector512.Create(a[4]); c40 = Vector512.FusedMultiplyAdd(ai, b0, c40); c41 = Vector512.FusedMultiplyAdd(ai, b1, c41); }
                { var ai = Vector512.Create(a[5]); c50 = Vector512.FusedMultiplyAdd(ai, b0, c50); c51 = Vector512.FusedMultiplyAdd(ai, b1, c51); }
                { var ai = Vector512.Create(a[6]); c60 = Vector512.FusedMultiplyAdd(ai, b0, c60); c61 = Vector512.FusedMultiplyAdd(ai, b1, c61); }
                { var ai = Vector512.Create(a[7]); c70 = Vector512.FusedMultiplyAdd(ai, b0, c70); c71 = Vector512.FusedMultiplyAdd(ai, b1, c71); }
                { var ai = Vector512.Create(a[8]); c80 = Vector512.FusedMultiplyAdd(ai, b0, c80); c81 = Vector512.FusedMultiplyAdd(ai, b1, c81); }
                { var ai = Vector512.Create(a[9]); c90 = Vector512.FusedMultiplyAdd(ai, b0, c90); c91 = Vector512.FusedMultiplyAdd(ai, b1, c91); }
                { var ai = Vector512.Create(a[10]); c100 = Vector512.FusedMultiplyAdd(ai, b0, c100); c101 = Vector512.FusedMultiplyAdd(ai, b1, c101); }
                { var ai = Vector512.Create(a[11]); c110 = Vector512.FusedMultiplyAdd(ai, b0, c110); c111 = Vector512.FusedMultiplyAdd(ai, b1, c111); }
            }
            a += 12;
            b += 32;
        }

        var va = Vector512.Create(alpha);
        if (beta == 0f)
        {
            // beta = 0 overwrites C without reading it, so NaN or garbage in C does not leak through.
            { float* r = c + 0 * ldc; Vector512.Store(c00 * va, r); Vector512.Store(c01 * va, r + 16); }
            { float* r = c + 1 * ldc; Vector512.Store(c10 * va, r); Vector512.Store(c11 * va, r + 16); }
            { float* r = c + 2 * ldc; Vector512.Store(c20 * va, r); Vector512.Store(c21 * va, r + 16); }
            { float* r = c + 3 * ldc; Vector512.Store(c30 * va, r); Vector512.Store(c31 * va, r + 16); }
            { float* r = c + 4 * ldc; Vector512.Store(c40 * va, r); Vector512.Store(c41 * va, r + 16); }
            { float* r = c + 5 * ldc; Vector512.Store(c50 * va, r); Vector512.Store(c51 * va, r + 16); }
            { float* r = c + 6 * ldc; Vector512.Store(c60 * va, r); Vector512.Store(c61 * va, r + 16); }
            { float* r = c + 7 * ldc; Vector512.Store(c70 * va, r); Vector512.Store(c71 * va, r + 16); }
            { float* r = c + 8 * ldc; Vector512.Store(c80 * va, r); Vector512.Store(c81 * va, r + 16); }
            { float* r = c + 9 * ldc; Vector512.Store(c90 * va, r); Vector512.Store(c91 * va, r + 16); }
            { float* r = c + 10 * ldc; Vector512.Store(c100 * va, r); Vector512.Store(c101 * va, r + 16); }
            { float* r = c + 11 * ldc; Vector512.Store(c110 * va, r); Vector512.Store(c111 * va, r + 16); }
        }
        else
        {
            var vb = Vector512.Create(beta);
            { float* r = c + 0 * ldc; Vector512.Store(Vector512.FusedMultiplyAdd(c00, va, Vector512.Load(r) * vb), r); Vector512.Store(Vector512.FusedMultiplyAdd(c01, va, Vector512.Load(r + 16) * vb), r + 16); }
            { float* r = c + 1 * ldc; Vector512.Store(Vector512.FusedMultiplyAdd(c10, va, Vector512.Load(r) * vb), r); Vector512.Store(Vector512.FusedMultiplyAdd(c11, va, Vector512.Load(r + 16) * vb), r + 16); }
            { float* r = c + 2 * ldc; Vector512.Store(Vector512.FusedMultiplyAdd(c20, va, Vector512.Load(r) * vb), r); Vector512.Store(Vector512.FusedMultiplyAdd(c21, va, Vector512.Load(r + 16) * vb), r + 16); }
            { float* r = c + 3 * ldc; Vector512.Store(Vector512.FusedMultiplyAdd(c30, va, Vector512.Load(r) * vb), r); Vector512.Store(Vector512.FusedMultiplyAdd(c31, va, Vector512.Load(r + 16) * vb), r + 16); }
            { float* r = c + 4 * ldc; Vector512.Store(Vector512.FusedMultiplyAdd(c40, va, Vector512.Load(r) * vb), r); Vector512.Store(Vector512.FusedMultiplyAdd(c41, va, Vector512.Load(r + 16) * vb), r + 16); }
            { float* r = c + 5 * ldc; Vector512.Store(Vector512.FusedMultiplyAdd(c50, va, Vector512.Load(r) * vb), r); Vector512.Store(Vector512.FusedMultiplyAdd(c51, va, Vector512.Load(r + 16) * vb), r + 16); }
            { float* r = c + 6 * ldc; Vector512.Store(Vector512.FusedMultiplyAdd(c60, va, Vector512.Load(r) * vb), r); Vector512.Store(Vector512.FusedMultiplyAdd(c61, va, Vector512.Load(r + 16) * vb), r + 16); }
            { float* r = c + 7 * ldc; Vector512.Store(Vector512.FusedMultiplyAdd(c70, va, Vector512.Load(r) * vb), r); Vector512.Store(Vector512.FusedMultiplyAdd(c71, va, Vector512.Load(r + 16) * vb), r + 16); }
            { float* r = c + 8 * ldc; Vector512.Store(Vector512.FusedMultiplyAdd(c80, va, Vector512.Load(r) * vb), r); Vector512.Store(Vector512.FusedMultiplyAdd(c81, va, Vector512.Load(r + 16) * vb), r + 16); }
            { float* r = c + 9 * ldc; Vector512.Store(Vector512.FusedMultiplyAdd(c90, va, Vector512.Load(r) * vb), r); Vector512.Store(Vector512.FusedMultiplyAdd(c91, va, Vector512.Load(r + 16) * vb), r + 16); }
            { float* r = c + 10 * ldc; Vector512.Store(Vector512.FusedMultiplyAdd(c100, va, Vector512.Load(r) * vb), r); Vector512.Store(Vector512.FusedMultiplyAdd(c101, va, Vector512.Load(r + 16) * vb), r + 16); }
            { float* r = c + 11 * ldc; Vector512.Store(Vector512.FusedMultiplyAdd(c110, va, Vector512.Load(r) * vb), r); Vector512.Store(Vector512.FusedMultiplyAdd(c111, va, Vector512.Load(r + 16) * vb), r + 16); }
        }
    }
}
