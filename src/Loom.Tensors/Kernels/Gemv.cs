using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Loom.Tensors.Kernels;

/// <summary>
/// Matrix-vector products for GEMM calls with M = 1 or N = 1. They are memory-bound, so the point is to stream
/// the matrix exactly once, with unit stride, split between the threads so both pull from memory.
/// </summary>
internal static unsafe class Gemv
{
    /// <summary>Below this many matrix elements one thread is faster than waking the others.</summary>
    private const long ParallelThreshold = 1L << 15;

    /// <summary>
    /// "Rows" form: y[j] = alpha * sum_p x[p] * mat[p, j] + beta * y[j] for j &lt; n, p &lt; k, where row p of
    /// the matrix is contiguous. Each thread owns a range of columns and sweeps all k rows over it.
    /// </summary>
    public static void Rows(int k, int n, float alpha, float* mat, nint ldm, float* x, nint incx, float beta, float* y, nint incy)
    {
        long xBytes = (long)k * sizeof(float), accBytes = (long)n * sizeof(float);
        byte* buf = BufferPool.Rent(xBytes + accBytes + 64, out long cap);
        try
        {
            // x is gathered (and scaled by alpha) once so the inner loops read it contiguously.
            float* xs = (float*)buf;
            for (int p = 0; p < k; p++) xs[p] = alpha * x[p * incx];
            float* acc = (float*)(buf + ((xBytes + 63) & ~63L));
            var body = new RowsBody { K = k, N = n, Mat = mat, Ldm = ldm, X = xs, Acc = acc, Beta = beta, Y = y, Incy = incy };
            int groups = GemmDriver.CeilDiv(n, 16);
            int chunks = (long)n * k < ParallelThreshold ? 1 : ComputePool.Threads;
            ComputePool.For(groups, body, chunks);
        }
        finally
        {
            BufferPool.Return(buf, cap);
        }
    }

    /// <summary>
    /// "Dots" form: y[j] = alpha * dot(mat[j, 0..k), x) + beta * y[j] for j &lt; n, where row j is contiguous.
    /// Each thread owns a range of rows; four rows share each load of x.
    /// </summary>
    public static void Dots(int n, int k, float alpha, float* mat, nint ldm, float* x, nint incx, float beta, float* y, nint incy)
    {
        byte* buf = null;
        long cap = 0;
        try
        {
            float* xs = x;
            if (incx != 1)
            {
                buf = BufferPool.Rent((long)k * sizeof(float), out cap);
                xs = (float*)buf;
                for (int p = 0; p < k; p++) xs[p] = x[p * incx];
            }
            var body = new DotsBody { K = k, Mat = mat, Ldm = ldm, X = xs, Alpha = alpha, Beta = beta, Y = y, Incy = incy };
            int chunks = (long)n * k < ParallelThreshold ? 1 : ComputePool.Threads;
            ComputePool.For(n, body, chunks);
        }
        finally
        {
            if (buf != null) BufferPool.Return(buf, cap);
        }
    }

    private struct RowsBody : IRangeBody
    {
        public int K, N;
        public float* Mat, X, Acc, Y;
        public nint Ldm, Incy;
        public float Beta;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Run(int start, int end)
        {
            int j0 = start * 16, j1 = Math.Min(N, end * 16);
            // Column blocks of 2048 floats keep the accumulators in L1 while the matrix streams past.
            for (int jb = j0; jb < j1; jb += 2048)
            {
                int w = Math.Min(2048, j1 - jb);
                float* acc = Acc + jb;
                new Span<float>(acc, w).Clear();
                int p = 0;
                for (; p + 4 <= K; p += 4)
                {
                    float* r = Mat + p * Ldm + jb;
                    Axpy4(acc, w, r, r + Ldm, r + 2 * Ldm, r + 3 * Ldm, X[p], X[p + 1], X[p + 2], X[p + 3]);
                }
                for (; p < K; p++)
                {
                    float* r = Mat + p * Ldm + jb;
                    Axpy4(acc, w, r, r, r, r, X[p], 0f, 0f, 0f);
                }
                float* y = Y + jb * Incy;
                if (Beta == 0f) for (int j = 0; j < w; j++) y[j * Incy] = acc[j];
                else for (int j = 0; j < w; j++) y[j * Incy] = acc[j] + Beta * y[j * Incy];
            }
        }
    }

    /// <summary>acc[j] += x0 * r0[j] + x1 * r1[j] + x2 * r2[j] + x3 * r3[j]: one pass over acc per four rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Axpy4(float* acc, int w, float* r0, float* r1, float* r2, float* r3, float x0, float x1, float x2, float x3)
    {
        int j = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var v0 = Vector256.Create(x0); var v1 = Vector256.Create(x1);
            var v2 = Vector256.Create(x2); var v3 = Vector256.Create(x3);
            for (; j + 8 <= w; j += 8)
            {
                var s = Vector256.Load(acc + j);
                s = Vector256.FusedMultiplyAdd(v0, Vector256.Load(r0 + j), s);
                s = Vector256.FusedMultiplyAdd(v1, Vector256.Load(r1 + j), s);
                s = Vector256.FusedMultiplyAdd(v2, Vector256.Load(r2 + j), s);
                s = Vector256.FusedMultiplyAdd(v3, Vector256.Load(r3 + j), s);
                Vector256.Store(s, acc + j);
            }
        }
        for (; j < w; j++) acc[j] += x0 * r0[j] + x1 * r1[j] + x2 * r2[j] + x3 * r3[j];
    }

    private struct DotsBody : IRangeBody
    {
        public int K;
        public float* Mat, X, Y;
        public nint Ldm, Incy;
        public float Alpha, Beta;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Run(int start, int end)
        {
            int j = start;
            for (; j + 4 <= end; j += 4)
            {
                float* r = Mat + j * Ldm;
                Dot4(K, r, r + Ldm, r + 2 * Ldm, r + 3 * Ldm, X, out float d0, out float d1, out float d2, out float d3);
                Store(j, d0); Store(j + 1, d1); Store(j + 2, d2); Store(j + 3, d3);
            }
            for (; j < end; j++)
            {
                float* r = Mat + j * Ldm;
                Dot4(K, r, r, r, r, X, out float d0, out _, out _, out _);
                Store(j, d0);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly void Store(int j, float dot)
        {
            float* y = Y + j * Incy;
            *y = Beta == 0f ? Alpha * dot : Alpha * dot + Beta * *y;
        }
    }

    /// <summary>Four dot products against the same x, two vectors per row per step (8 independent FMA chains).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot4(int k, float* r0, float* r1, float* r2, float* r3, float* x,
        out float d0, out float d1, out float d2, out float d3)
    {
        int p = 0;
        d0 = d1 = d2 = d3 = 0f;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
            Vector256<float> t0 = default, t1 = default, t2 = default, t3 = default;
            for (; p + 16 <= k; p += 16)
            {
                var xa = Vector256.Load(x + p);
                var xb = Vector256.Load(x + p + 8);
                s0 = Vector256.FusedMultiplyAdd(Vector256.Load(r0 + p), xa, s0);
                t0 = Vector256.FusedMultiplyAdd(Vector256.Load(r0 + p + 8), xb, t0);
                s1 = Vector256.FusedMultiplyAdd(Vector256.Load(r1 + p), xa, s1);
                t1 = Vector256.FusedMultiplyAdd(Vector256.Load(r1 + p + 8), xb, t1);
                s2 = Vector256.FusedMultiplyAdd(Vector256.Load(r2 + p), xa, s2);
                t2 = Vector256.FusedMultiplyAdd(Vector256.Load(r2 + p + 8), xb, t2);
                s3 = Vector256.FusedMultiplyAdd(Vector256.Load(r3 + p), xa, s3);
                t3 = Vector256.FusedMultiplyAdd(Vector256.Load(r3 + p + 8), xb, t3);
            }
            for (; p + 8 <= k; p += 8)
            {
                var xa = Vector256.Load(x + p);
                s0 = Vector256.FusedMultiplyAdd(Vector256.Load(r0 + p), xa, s0);
                s1 = Vector256.FusedMultiplyAdd(Vector256.Load(r1 + p), xa, s1);
                s2 = Vector256.FusedMultiplyAdd(Vector256.Load(r2 + p), xa, s2);
                s3 = Vector256.FusedMultiplyAdd(Vector256.Load(r3 + p), xa, s3);
            }
            d0 = Vector256.Sum(s0 + t0); d1 = Vector256.Sum(s1 + t1);
            d2 = Vector256.Sum(s2 + t2); d3 = Vector256.Sum(s3 + t3);
        }
        for (; p < k; p++)
        {
            float xv = x[p];
            d0 += r0[p] * xv; d1 += r1[p] * xv; d2 += r2[p] * xv; d3 += r3[p] * xv;
        }
    }
}
