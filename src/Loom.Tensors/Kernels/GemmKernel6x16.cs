using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Loom.Tensors.Kernels;

/// <summary>AVX2/FMA GEMM micro-kernel: a 6x16 tile of C in 12 ymm accumulators.</summary>
/// <remarks>
/// 12 accumulators + 2 B vectors + 1 broadcast use 15 of the 16 ymm registers. Per k step: 2 loads of B,
/// 6 broadcasts of A and 12 FMAs, so the two FMA pipes (not the load ports) are the bottleneck.
/// </remarks>
internal readonly unsafe struct GemmKernel6x16 : IGemmMicroKernel
{
    public static int MR => 6;
    public static int NR => 16;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta)
    {
        // The C tile is touched only after the k loop: prefetch its lines now so the misses overlap the FMAs
        // (C is far larger than the caches for big problems, and is re-read once per KC block).
        if (Sse.IsSupported)
        {
            { float* r = c + 0 * ldc; Sse.Prefetch0(r); Sse.Prefetch0(r + 15); }
            { float* r = c + 1 * ldc; Sse.Prefetch0(r); Sse.Prefetch0(r + 15); }
            { float* r = c + 2 * ldc; Sse.Prefetch0(r); Sse.Prefetch0(r + 15); }
            { float* r = c + 3 * ldc; Sse.Prefetch0(r); Sse.Prefetch0(r + 15); }
            { float* r = c + 4 * ldc; Sse.Prefetch0(r); Sse.Prefetch0(r + 15); }
            { float* r = c + 5 * ldc; Sse.Prefetch0(r); Sse.Prefetch0(r + 15); }
        }
        // One local per accumulator (no arrays of vectors) so the JIT keeps all of them in registers.
        Vector256<float> c00 = default; Vector256<float> c01 = default;
        Vector256<float> c10 = default; Vector256<float> c11 = default;
        Vector256<float> c20 = default; Vector256<float> c21 = default;
        Vector256<float> c30 = default; Vector256<float> c31 = default;
        Vector256<float> c40 = default; Vector256<float> c41 = default;
        Vector256<float> c50 = default; Vector256<float> c51 = default;
        int p = 0;
        // Unrolled by 4: the loop overhead is then small next to 48 FMAs.
        for (; p + 4 <= kc; p += 4)
        {
            {
                var b0 = Vector256.Load(b);
                var b1 = Vector256.Load(b + 8);
                { var ai = Vector256.Create(a[0]); c00 = Vector256.FusedMultiplyAdd(ai, b0, c00); c01 = Vector256.FusedMultiplyAdd(ai, b1, c01); }
                { var ai = Vector256.Create(a[1]); c10 = Vector256.FusedMultiplyAdd(ai, b0, c10); c11 = Vector256.FusedMultiplyAdd(ai, b1, c11); }
                { var ai = Vector256.Create(a[2]); c20 = Vector256.FusedMultiplyAdd(ai, b0, c20); c21 = Vector256.FusedMultiplyAdd(ai, b1, c21); }
                { var ai = Vector256.Create(a[3]); c30 = Vector256.FusedMultiplyAdd(ai, b0, c30); c31 = Vector256.FusedMultiplyAdd(ai, b1, c31); }
                { var ai = Vector256.Create(a[4]); c40 = Vector256.FusedMultiplyAdd(ai, b0, c40); c41 = Vector256.FusedMultiplyAdd(ai, b1, c41); }
                { var ai = Vector256.Create(a[5]); c50 = Vector256.FusedMultiplyAdd(ai, b0, c50); c51 = Vector256.FusedMultiplyAdd(ai, b1, c51); }
            }
            {
                var b0 = Vector256.Load(b + 16);
                var b1 = Vector256.Load(b + 24);
                { var ai = Vector256.Create(a[6]); c00 = Vector256.FusedMultiplyAdd(ai, b0, c00); c01 = Vector256.FusedMultiplyAdd(ai, b1, c01); }
                { var ai = Vector256.Create(a[7]); c10 = Vector256.FusedMultiplyAdd(ai, b0, c10); c11 = Vector256.FusedMultiplyAdd(ai, b1, c11); }
                { var ai = Vector256.Create(a[8]); c20 = Vector256.FusedMultiplyAdd(ai, b0, c20); c21 = Vector256.FusedMultiplyAdd(ai, b1, c21); }
                { var ai = Vector256.Create(a[9]); c30 = Vector256.FusedMultiplyAdd(ai, b0, c30); c31 = Vector256.FusedMultiplyAdd(ai, b1, c31); }
                { var ai = Vector256.Create(a[10]); c40 = Vector256.FusedMultiplyAdd(ai, b0, c40); c41 = Vector256.FusedMultiplyAdd(ai, b1, c41); }
                { var ai = Vector256.Create(a[11]); c50 = Vector256.FusedMultiplyAdd(ai, b0, c50); c51 = Vector256.FusedMultiplyAdd(ai, b1, c51); }
            }
            {
                var b0 = Vector256.Load(b + 32);
                var b1 = Vector256.Load(b + 40);
                { var ai = Vector256.Create(a[12]); c00 = Vector256.FusedMultiplyAdd(ai, b0, c00); c01 = Vector256.FusedMultiplyAdd(ai, b1, c01); }
                { var ai = Vector256.Create(a[13]); c10 = Vector256.FusedMultiplyAdd(ai, b0, c10); c11 = Vector256.FusedMultiplyAdd(ai, b1, c11); }
                { var ai = Vector256.Create(a[14]); c20 = Vector256.FusedMultiplyAdd(ai, b0, c20); c21 = Vector256.FusedMultiplyAdd(ai, b1, c21); }
                { var ai = Vector256.Create(a[15]); c30 = Vector256.FusedMultiplyAdd(ai, b0, c30); c31 = Vector256.FusedMultiplyAdd(ai, b1, c31); }
                { var ai = Vector256.Create(a[16]); c40 = Vector256.FusedMultiplyAdd(ai, b0, c40); c41 = Vector256.FusedMultiplyAdd(ai, b1, c41); }
                { var ai = Vector256.Create(a[17]); c50 = Vector256.FusedMultiplyAdd(ai, b0, c50); c51 = Vector256.FusedMultiplyAdd(ai, b1, c51); }
            }
            {
                var b0 = Vector256.Load(b + 48);
                var b1 = Vector256.Load(b + 56);
                { var ai = Vector256.Create(a[18]); c00 = Vector256.FusedMultiplyAdd(ai, b0, c00); c01 = Vector256.FusedMultiplyAdd(ai, b1, c01); }
                { var ai = Vector256.Create(a[19]); c10 = Vector256.FusedMultiplyAdd(ai, b0, c10); c11 = Vector256.FusedMultiplyAdd(ai, b1, c11); }
                { var ai = Vector256.Create(a[20]); c20 = Vector256.FusedMultiplyAdd(ai, b0, c20); c21 = Vector256.FusedMultiplyAdd(ai, b1, c21); }
                { var ai = Vector256.Create(a[21]); c30 = Vector256.FusedMultiplyAdd(ai, b0, c30); c31 = Vector256.FusedMultiplyAdd(ai, b1, c31); }
                { var ai = Vector256.Create(a[22]); c40 = Vector256.FusedMultiplyAdd(ai, b0, c40); c41 = Vector256.FusedMultiplyAdd(ai, b1, c41); }
                { var ai = Vector256.Create(a[23]); c50 = Vector256.FusedMultiplyAdd(ai, b0, c50); c51 = Vector256.FusedMultiplyAdd(ai, b1, c51); }
            }
            a += 24;
            b += 64;
        }
        for (; p < kc; p++)
        {
            {
                var b0 = Vector256.Load(b);
                var b1 = Vector256.Load(b + 8);
                { var ai = Vector256.Create(a[0]); c00 = Vector256.FusedMultiplyAdd(ai, b0, c00); c01 = Vector256.FusedMultiplyAdd(ai, b1, c01); }
                { var ai = Vector256.Create(a[1]); c10 = Vector256.FusedMultiplyAdd(ai, b0, c10); c11 = Vector256.FusedMultiplyAdd(ai, b1, c11); }
                { var ai = Vector256.Create(a[2]); c20 = Vector256.FusedMultiplyAdd(ai, b0, c20); c21 = Vector256.FusedMultiplyAdd(ai, b1, c21); }
                { var ai = Vector256.Create(a[3]); c30 = Vector256.FusedMultiplyAdd(ai, b0, c30); c31 = Vector256.FusedMultiplyAdd(ai, b1, c31); }
                { var ai = Vector256.Create(a[4]); c40 = Vector256.FusedMultiplyAdd(ai, b0, c40); c41 = Vector256.FusedMultiplyAdd(ai, b1, c41); }
                { var ai = Vector256.Create(a[5]); c50 = Vector256.FusedMultiplyAdd(ai, b0, c50); c51 = Vector256.FusedMultiplyAdd(ai, b1, c51); }
            }
            a += 6;
            b += 16;
        }

        var va = Vector256.Create(alpha);
        if (beta == 0f)
        {
            // beta = 0 overwrites C without reading it, so NaN or garbage in C does not leak through.
            { float* r = c + 0 * ldc; Vector256.Store(c00 * va, r); Vector256.Store(c01 * va, r + 8); }
            { float* r = c + 1 * ldc; Vector256.Store(c10 * va, r); Vector256.Store(c11 * va, r + 8); }
            { float* r = c + 2 * ldc; Vector256.Store(c20 * va, r); Vector256.Store(c21 * va, r + 8); }
            { float* r = c + 3 * ldc; Vector256.Store(c30 * va, r); Vector256.Store(c31 * va, r + 8); }
            { float* r = c + 4 * ldc; Vector256.Store(c40 * va, r); Vector256.Store(c41 * va, r + 8); }
            { float* r = c + 5 * ldc; Vector256.Store(c50 * va, r); Vector256.Store(c51 * va, r + 8); }
        }
        else
        {
            var vb = Vector256.Create(beta);
            { float* r = c + 0 * ldc; Vector256.Store(Vector256.FusedMultiplyAdd(c00, va, Vector256.Load(r) * vb), r); Vector256.Store(Vector256.FusedMultiplyAdd(c01, va, Vector256.Load(r + 8) * vb), r + 8); }
            { float* r = c + 1 * ldc; Vector256.Store(Vector256.FusedMultiplyAdd(c10, va, Vector256.Load(r) * vb), r); Vector256.Store(Vector256.FusedMultiplyAdd(c11, va, Vector256.Load(r + 8) * vb), r + 8); }
            { float* r = c + 2 * ldc; Vector256.Store(Vector256.FusedMultiplyAdd(c20, va, Vector256.Load(r) * vb), r); Vector256.Store(Vector256.FusedMultiplyAdd(c21, va, Vector256.Load(r + 8) * vb), r + 8); }
            { float* r = c + 3 * ldc; Vector256.Store(Vector256.FusedMultiplyAdd(c30, va, Vector256.Load(r) * vb), r); Vector256.Store(Vector256.FusedMultiplyAdd(c31, va, Vector256.Load(r + 8) * vb), r + 8); }
            { float* r = c + 4 * ldc; Vector256.Store(Vector256.FusedMultiplyAdd(c40, va, Vector256.Load(r) * vb), r); Vector256.Store(Vector256.FusedMultiplyAdd(c41, va, Vector256.Load(r + 8) * vb), r + 8); }
            { float* r = c + 5 * ldc; Vector256.Store(Vector256.FusedMultiplyAdd(c50, va, Vector256.Load(r) * vb), r); Vector256.Store(Vector256.FusedMultiplyAdd(c51, va, Vector256.Load(r + 8) * vb), r + 8); }
        }
    }
}
