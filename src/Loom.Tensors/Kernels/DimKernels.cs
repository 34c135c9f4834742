using System.Numerics.Tensors;

namespace Loom.Tensors.Kernels;

/// <summary>
/// Reductions along one dimension of a contiguous tensor viewed as (outer, n, inner), and their backward
/// broadcasts. Rows (inner = 1) reduce with vector sums; otherwise blocks of the inner dimension accumulate
/// across n with vector adds, so both layouts stay vectorised. Work items run in parallel on ComputePool.
/// </summary>
public static unsafe class DimKernels
{
    /// <summary>Inner elements per work item when reducing over a non-last dimension.</summary>
    private const int Block = 256;

    private static int Chunks(long elements) => elements < Ops.ParallelThreshold ? 1 : 0;

    private static int Items(int outer, int inner) => inner == 1 ? outer : outer * ((inner + Block - 1) / Block);

    /// <summary>y (outer, inner) = scale * sum over n of x (outer, n, inner).</summary>
    public static void Sum(float* x, float* y, int outer, int n, int inner, float scale)
    {
        var body = new SumBody { X = x, Y = y, N = n, Inner = inner, Scale = scale };
        ComputePool.For(Items(outer, inner), body, Chunks((long)outer * n * inner));
    }

    private struct SumBody : IRangeBody
    {
        public float* X, Y;
        public int N, Inner;
        public float Scale;

        public readonly void Run(int start, int end)
        {
            if (Inner == 1)
            {
                for (int o = start; o < end; o++) Y[o] = TensorPrimitives.Sum(new ReadOnlySpan<float>(X + (long)o * N, N)) * Scale;
                return;
            }
            int nb = (Inner + Block - 1) / Block;
            for (int w = start; w < end; w++)
            {
                int o = w / nb, i0 = w % nb * Block, len = Math.Min(Block, Inner - i0);
                var dst = new Span<float>(Y + (long)o * Inner + i0, len);
                float* src = X + (long)o * N * Inner + i0;
                new ReadOnlySpan<float>(src, len).CopyTo(dst);
                for (int k = 1; k < N; k++) TensorPrimitives.Add(dst, new ReadOnlySpan<float>(src + (long)k * Inner, len), dst);
                if (Scale != 1f) TensorPrimitives.Multiply(dst, Scale, dst);
            }
        }
    }

    /// <summary>Max over n with the index of the first maximum (NaN wins, as in PyTorch); either output may be null.</summary>
    public static void Max(float* x, float* values, float* indices, int outer, int n, int inner)
    {
        var body = new MaxBody { X = x, V = values, I = indices, N = n, Inner = inner };
        ComputePool.For(Items(outer, inner), body, Chunks((long)outer * n * inner));
    }

    private struct MaxBody : IRangeBody
    {
        public float* X, V, I;
        public int N, Inner;

        public readonly void Run(int start, int end)
        {
            if (Inner == 1)
            {
                for (int o = start; o < end; o++)
                {
                    float* row = X + (long)o * N;
                    int idx = TensorPrimitives.IndexOfMax(new ReadOnlySpan<float>(row, N));
                    if (V != null) V[o] = row[idx];
                    if (I != null) I[o] = idx;
                }
                return;
            }
            int nb = (Inner + Block - 1) / Block;
            int* best = stackalloc int[Block];
            float* bv = stackalloc float[Block];
            for (int w = start; w < end; w++)
            {
                int o = w / nb, i0 = w % nb * Block, len = Math.Min(Block, Inner - i0);
                float* src = X + (long)o * N * Inner + i0;
                for (int i = 0; i < len; i++) { bv[i] = src[i]; best[i] = 0; }
                for (int k = 1; k < N; k++)
                {
                    float* r = src + (long)k * Inner;
                    for (int i = 0; i < len; i++)
                    {
                        float v = r[i];
                        if (v > bv[i] || (float.IsNaN(v) && !float.IsNaN(bv[i]))) { bv[i] = v; best[i] = k; }
                    }
                }
                long off = (long)o * Inner + i0;
                for (int i = 0; i < len; i++)
                {
                    if (V != null) V[off + i] = bv[i];
                    if (I != null) I[off + i] = best[i];
                }
            }
        }
    }

    /// <summary>Variance over n with Bessel-style <paramref name="correction"/> (two-pass: mean first).</summary>
    public static void Var(float* x, float* y, int outer, int n, int inner, int correction)
    {
        var body = new VarBody { X = x, Y = y, N = n, Inner = inner, Denom = Math.Max(n - correction, 0) };
        ComputePool.For(Items(outer, inner), body, Chunks((long)outer * n * inner));
    }

    private struct VarBody : IRangeBody
    {
        public float* X, Y;
        public int N, Inner, Denom;

        public readonly void Run(int start, int end)
        {
            if (Inner == 1)
            {
                for (int o = start; o < end; o++)
                {
                    float* row = X + (long)o * N;
                    float mu = TensorPrimitives.Sum(new ReadOnlySpan<float>(row, N)) / N;
                    Y[o] = Simd.SumSqCentered(row, N, mu) / Denom;
                }
                return;
            }
            int nb = (Inner + Block - 1) / Block;
            float* mean = stackalloc float[Block];
            float* acc = stackalloc float[Block];
            for (int w = start; w < end; w++)
            {
                int o = w / nb, i0 = w % nb * Block, len = Math.Min(Block, Inner - i0);
                float* src = X + (long)o * N * Inner + i0;
                var m = new Span<float>(mean, len);
                var a = new Span<float>(acc, len);
                m.Clear();
                a.Clear();
                for (int k = 0; k < N; k++) TensorPrimitives.Add(m, new ReadOnlySpan<float>(src + (long)k * Inner, len), m);
                TensorPrimitives.Multiply(m, 1f / N, m);
                for (int k = 0; k < N; k++)
                {
                    float* r = src + (long)k * Inner;
                    for (int i = 0; i < len; i++) { float d = r[i] - mean[i]; acc[i] += d * d; }
                }
                float* dst = Y + (long)o * Inner + i0;
                for (int i = 0; i < len; i++) dst[i] = acc[i] / Denom;
            }
        }
    }

    /// <summary>dx (outer, n, inner) = scale * g (outer, inner) repeated along n: the backward of Sum/Mean.</summary>
    public static void Expand(float* g, float* dx, int outer, int n, int inner, float scale)
    {
        var body = new ExpandBody { G = g, D = dx, N = n, Inner = inner, Scale = scale };
        ComputePool.For(outer, body, Chunks((long)outer * n * inner));
    }

    private struct ExpandBody : IRangeBody
    {
        public float* G, D;
        public int N, Inner;
        public float Scale;

        public readonly void Run(int start, int end)
        {
            for (int o = start; o < end; o++)
            {
                var src = new ReadOnlySpan<float>(G + (long)o * Inner, Inner);
                float* dst = D + (long)o * N * Inner;
                if (Inner == 1) { new Span<float>(dst, N).Fill(src[0] * Scale); continue; }
                for (int k = 0; k < N; k++) TensorPrimitives.Multiply(src, Scale, new Span<float>(dst + (long)k * Inner, Inner));
            }
        }
    }

    /// <summary>dx (outer, n, inner) = g at the given indices along n, zero elsewhere: the backward of Max.</summary>
    public static void ScatterIndex(float* g, float* indices, float* dx, int outer, int n, int inner)
    {
        new Span<float>(dx, checked(outer * n * inner)).Clear();
        for (long o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                long j = o * inner + i;
                int k = (int)indices[j];
                dx[(o * n + k) * inner + i] = g[j];
            }
    }
}
