using System.Numerics.Tensors;

namespace Loom.Tensors.Kernels;

/// <summary>
/// Row-wise kernels over contiguous (rows, n) data: softmax, log-softmax, cross-entropy, layer norm and RMS
/// norm, forward and backward. Rows run in parallel on <see cref="ComputePool"/> once the input is large;
/// each row is a few vectorised passes that stay in cache.
/// </summary>
public static unsafe class RowKernels
{
    private static int Chunks(long elements) => elements < Ops.ParallelThreshold ? 1 : 0;

    // ---------- softmax ----------

    /// <summary>y = softmax(x) (log = false) or log_softmax(x) (log = true) per row.</summary>
    public static void Softmax(float* x, float* y, int rows, int n, bool log)
    {
        var body = new SoftmaxBody { X = x, Y = y, N = n, Log = log };
        ComputePool.For(rows, body, Chunks((long)rows * n));
    }

    private struct SoftmaxBody : IRangeBody
    {
        public float* X, Y;
        public int N;
        public bool Log;

        public readonly void Run(int start, int end)
        {
            for (int r = start; r < end; r++)
            {
                var x = new ReadOnlySpan<float>(X + (long)r * N, N);
                var y = new Span<float>(Y + (long)r * N, N);
                float max = TensorPrimitives.Max(x);
                if (float.IsNegativeInfinity(max)) max = 0f; // an all -inf row: keep NaN out of x - max
                if (Log)
                {
                    float lse = max + MathF.Log(Simd.SumExp(X + (long)r * N, N, max));
                    TensorPrimitives.Subtract(x, lse, y);
                }
                else
                {
                    float sum = Simd.ExpShiftedSum(X + (long)r * N, Y + (long)r * N, N, max);
                    TensorPrimitives.Multiply(y, 1f / sum, y);
                }
            }
        }
    }

    /// <summary>
    /// Softmax backward from the output: dx = y (g - sum(g y)); log-softmax: dx = g - exp(y) sum(g).
    /// </summary>
    public static void SoftmaxBackward(float* y, float* g, float* dx, int rows, int n, bool log)
    {
        var body = new SoftmaxBackwardBody { Y = y, G = g, D = dx, N = n, Log = log };
        ComputePool.For(rows, body, Chunks((long)rows * n));
    }

    private struct SoftmaxBackwardBody : IRangeBody
    {
        public float* Y, G, D;
        public int N;
        public bool Log;

        public readonly void Run(int start, int end)
        {
            for (int r = start; r < end; r++)
            {
                long off = (long)r * N;
                var y = new ReadOnlySpan<float>(Y + off, N);
                var g = new ReadOnlySpan<float>(G + off, N);
                var d = new Span<float>(D + off, N);
                if (Log)
                {
                    float s = TensorPrimitives.Sum(g);
                    TensorPrimitives.Exp(y, d);
                    TensorPrimitives.MultiplyAdd(d, -s, g, d);
                }
                else
                {
                    float dot = TensorPrimitives.Dot(g, y);
                    TensorPrimitives.Subtract(g, dot, d);
                    TensorPrimitives.Multiply(d, y, d);
                }
            }
        }
    }

    // ---------- cross-entropy ----------

    /// <summary>
    /// Per-row loss = logsumexp(x) - x[target] and the saved logsumexp; rows whose target is
    /// <paramref name="ignoreIndex"/> get loss 0 (their lse is still computed, for simplicity of the backward).
    /// </summary>
    public static void CrossEntropy(float* logits, int* targets, float* loss, float* lse, int rows, int n, int ignoreIndex)
    {
        var body = new CrossEntropyBody { X = logits, T = targets, L = loss, Lse = lse, N = n, Ignore = ignoreIndex };
        ComputePool.For(rows, body, Chunks((long)rows * n));
    }

    private struct CrossEntropyBody : IRangeBody
    {
        public float* X, L, Lse;
        public int* T;
        public int N, Ignore;

        public readonly void Run(int start, int end)
        {
            for (int r = start; r < end; r++)
            {
                float* x = X + (long)r * N;
                float max = TensorPrimitives.Max(new ReadOnlySpan<float>(x, N));
                if (float.IsNegativeInfinity(max)) max = 0f;
                float lse = max + MathF.Log(Simd.SumExp(x, N, max));
                Lse[r] = lse;
                int t = T[r];
                L[r] = t == Ignore ? 0f : lse - x[t];
            }
        }
    }

    /// <summary>dx = (softmax(x) - onehot(target)) * scale[row]; ignored rows get zero.</summary>
    public static void CrossEntropyBackward(float* logits, int* targets, float* lse, float* scale, float* dx, int rows, int n, int ignoreIndex)
    {
        var body = new CrossEntropyBackwardBody { X = logits, T = targets, Lse = lse, S = scale, D = dx, N = n, Ignore = ignoreIndex };
        ComputePool.For(rows, body, Chunks((long)rows * n));
    }

    private struct CrossEntropyBackwardBody : IRangeBody
    {
        public float* X, Lse, S, D;
        public int* T;
        public int N, Ignore;

        public readonly void Run(int start, int end)
        {
            for (int r = start; r < end; r++)
            {
                long off = (long)r * N;
                var d = new Span<float>(D + off, N);
                int t = T[r];
                if (t == Ignore) { d.Clear(); continue; }
                TensorPrimitives.Subtract(new ReadOnlySpan<float>(X + off, N), Lse[r], d);
                TensorPrimitives.Exp(d, d);
                float s = S[r];
                TensorPrimitives.Multiply(d, s, d);
                d[t] -= s;
            }
        }
    }

    // ---------- layer norm / RMS norm ----------

    /// <summary>
    /// y = (x - mean) * rstd * w + b per row (w, b optional); saves mean and rstd per row. With
    /// <paramref name="rms"/>, mean is taken as 0 and rstd = 1/sqrt(mean(x^2) + eps) (RMSNorm).
    /// </summary>
    public static void Norm(float* x, float* w, float* b, float* y, float* mean, float* rstd, int rows, int n, float eps, bool rms)
    {
        var body = new NormBody { X = x, W = w, B = b, Y = y, Mean = mean, Rstd = rstd, N = n, Eps = eps, Rms = rms };
        ComputePool.For(rows, body, Chunks((long)rows * n));
    }

    private struct NormBody : IRangeBody
    {
        public float* X, W, B, Y, Mean, Rstd;
        public int N;
        public float Eps;
        public bool Rms;

        public readonly void Run(int start, int end)
        {
            for (int r = start; r < end; r++)
            {
                long off = (long)r * N;
                float* xr = X + off;
                var x = new ReadOnlySpan<float>(xr, N);
                var y = new Span<float>(Y + off, N);
                float mean = Rms ? 0f : TensorPrimitives.Sum(x) / N;
                float rstd = 1f / MathF.Sqrt(Simd.SumSqCentered(xr, N, mean) / N + Eps);
                if (Mean != null) Mean[r] = mean;
                Rstd[r] = rstd;
                TensorPrimitives.Subtract(x, mean, y);
                TensorPrimitives.Multiply(y, rstd, y);
                if (W != null)
                {
                    if (B != null) TensorPrimitives.MultiplyAdd(y, new ReadOnlySpan<float>(W, N), new ReadOnlySpan<float>(B, N), y);
                    else TensorPrimitives.Multiply(y, new ReadOnlySpan<float>(W, N), y);
                }
                else if (B != null) TensorPrimitives.Add(y, new ReadOnlySpan<float>(B, N), y);
            }
        }
    }

    /// <summary>
    /// Input gradient of layer norm / RMS norm per row, with xhat = (x - mean) rstd and gw = g * w:
    /// dx = rstd (gw - mean(gw) - xhat mean(gw xhat)); RMS norm drops the mean(gw) term.
    /// </summary>
    public static void NormBackwardInput(float* x, float* w, float* g, float* mean, float* rstd, float* dx, int rows, int n, bool rms)
    {
        var body = new NormBackwardBody { X = x, W = w, G = g, Mean = mean, Rstd = rstd, D = dx, N = n, Rms = rms };
        ComputePool.For(rows, body, Chunks((long)rows * n));
    }

    private struct NormBackwardBody : IRangeBody
    {
        public float* X, W, G, Mean, Rstd, D;
        public int N;
        public bool Rms;

        public readonly void Run(int start, int end)
        {
            for (int r = start; r < end; r++)
            {
                long off = (long)r * N;
                float* xr = X + off;
                var d = new Span<float>(D + off, N);
                var g = new ReadOnlySpan<float>(G + off, N);
                // d holds gw = g * w until the final combination.
                if (W != null) TensorPrimitives.Multiply(g, new ReadOnlySpan<float>(W, N), d);
                else g.CopyTo(d);
                float mean = Rms ? 0f : Mean[r];
                float rstd = Rstd[r];
                var (sum, dot) = Simd.SumAndDotCentered(D + off, xr, N, mean);
                float c1 = Rms ? 0f : sum / N;          // mean(gw)
                float c2 = dot * rstd / N;              // mean(gw * xhat)
                // dx = rstd * gw - rstd^2 c2 (x - mean) - rstd c1
                float a = -rstd * rstd * c2;
                float c = rstd * rstd * c2 * mean - rstd * c1;
                TensorPrimitives.Multiply(d, rstd, d);
                TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(xr, N), a, d, d);
                TensorPrimitives.Add(d, c, d);
            }
        }
    }

    /// <summary>
    /// Parameter gradients of a norm layer: dw = sum over rows of g * xhat, db = sum of g (either may be null).
    /// These sums run over every row, often with heavy cancellation, so they accumulate in float64: threads
    /// add into their own (2n)-double slices of <paramref name="partial"/> (chunks * 2n doubles), summed at the end.
    /// </summary>
    public static void NormBackwardParams(float* x, float* g, float* mean, float* rstd, float* dw, float* db, double* partial, int chunks, int rows, int n)
    {
        var body = new NormParamBody { X = x, G = g, Mean = mean, Rstd = rstd, P = partial, Chunks = chunks, Rows = rows, N = n, NeedW = dw != null, NeedB = db != null };
        ComputePool.For(chunks, body, chunks);
        for (int j = 0; j < n; j++)
        {
            double sw = 0, sb = 0;
            for (int c = 0; c < chunks; c++) { sw += partial[(long)c * 2 * n + j]; sb += partial[(long)c * 2 * n + n + j]; }
            if (dw != null) dw[j] = (float)sw;
            if (db != null) db[j] = (float)sb;
        }
    }

    private struct NormParamBody : IRangeBody
    {
        public float* X, G, Mean, Rstd;
        public double* P;
        public int Chunks, Rows, N;
        public bool NeedW, NeedB;

        public readonly void Run(int start, int end)
        {
            for (int c = start; c < end; c++)
            {
                double* pw = P + (long)c * 2 * N, pb = pw + N;
                new Span<double>(pw, 2 * N).Clear();
                int r0 = (int)((long)Rows * c / Chunks), r1 = (int)((long)Rows * (c + 1) / Chunks);
                for (int r = r0; r < r1; r++)
                {
                    long off = (long)r * N;
                    if (NeedW) Simd.AccumulateScaledCenteredF64(pw, G + off, X + off, N, Mean == null ? 0f : Mean[r], Rstd[r]);
                    if (NeedB) Simd.AccumulateF64(pb, G + off, N);
                }
            }
        }
    }
}
