using System.Numerics.Tensors;

namespace Loom.Tensors.Kernels;

/// <summary>
/// Group normalisation over x (N, C, L) viewed as N * G groups of C/G contiguous channels: per-group mean and
/// reciprocal standard deviation, then a per-channel scale and shift. Each (n, g) group is one work item.
/// </summary>
public static unsafe class GroupNormKernel
{
    /// <summary>y = (x - mean) * rstd * w + b; writes mean and rstd (N, G). w and b may be null (1 and 0).</summary>
    public static void Forward(float* x, float* w, float* b, float* y, float* mean, float* rstd, int n, int c, int groups, int inner, float eps)
    {
        int items = n * groups;
        ComputePool.For(items, new FwdBody { X = x, W = w, Bias = b, Y = y, Mean = mean, Rstd = rstd, C = c, G = groups, L = inner, Eps = eps },
            (long)n * c * inner < Ops.ParallelThreshold ? 1 : 0);
    }

    /// <summary>
    /// dx from dy; also the per-(n, c) partial sums of dy * xhat and dy (N, C) for the weight and bias gradients,
    /// reduced over N by the caller so that no two threads write one element.
    /// </summary>
    public static void Backward(float* x, float* w, float* dy, float* mean, float* rstd, float* dx, float* dwPartial, float* dbPartial, int n, int c, int groups, int inner)
    {
        int items = n * groups;
        ComputePool.For(items, new BwdBody { X = x, W = w, DY = dy, Mean = mean, Rstd = rstd, DX = dx, DW = dwPartial, DB = dbPartial, C = c, G = groups, L = inner },
            (long)n * c * inner < Ops.ParallelThreshold ? 1 : 0);
    }

    private static double Sum(ReadOnlySpan<float> s)
    {
        // Blocks of float sums added in double: accurate for long groups without a scalar loop.
        double acc = 0;
        for (int i = 0; i < s.Length; i += 1024) acc += TensorPrimitives.Sum(s.Slice(i, Math.Min(1024, s.Length - i)));
        return acc;
    }

    private static double Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double acc = 0;
        for (int i = 0; i < a.Length; i += 1024)
        {
            int len = Math.Min(1024, a.Length - i);
            acc += TensorPrimitives.Dot(a.Slice(i, len), b.Slice(i, len));
        }
        return acc;
    }

    private struct FwdBody : IRangeBody
    {
        public float* X, W, Bias, Y, Mean, Rstd;
        public int C, G, L;
        public float Eps;

        public readonly void Run(int start, int end)
        {
            int cg = C / G;
            int len = cg * L;
            Span<float> dev = stackalloc float[256];
            for (int item = start; item < end; item++)
            {
                long off = (long)item * len;
                var xs = new ReadOnlySpan<float>(X + off, len);
                double mu = Sum(xs) / len;
                // Two passes (mean, then squared deviations): no cancellation for inputs with a large mean.
                double ss = 0;
                for (int i = 0; i < len; i += dev.Length)
                {
                    var blk = dev[..Math.Min(dev.Length, len - i)];
                    TensorPrimitives.Subtract(xs.Slice(i, blk.Length), (float)mu, blk);
                    ss += TensorPrimitives.SumOfSquares(blk);
                }
                float r = (float)(1.0 / Math.Sqrt(ss / len + Eps));
                float m = (float)mu;
                Mean[item] = m;
                Rstd[item] = r;
                int g = item % G;
                for (int ch = 0; ch < cg; ch++)
                {
                    int cc = g * cg + ch;
                    float a = r * (W != null ? W[cc] : 1f);
                    float sh = (Bias != null ? Bias[cc] : 0f) - m * a;
                    var xr = new ReadOnlySpan<float>(X + off + (long)ch * L, L);
                    var yr = new Span<float>(Y + off + (long)ch * L, L);
                    TensorPrimitives.Multiply(xr, a, yr);
                    TensorPrimitives.Add(yr, sh, yr);
                }
            }
        }
    }

    private struct BwdBody : IRangeBody
    {
        public float* X, W, DY, Mean, Rstd, DX, DW, DB;
        public int C, G, L;

        public readonly void Run(int start, int end)
        {
            int cg = C / G;
            int len = cg * L;
            for (int item = start; item < end; item++)
            {
                long off = (long)item * len;
                int g = item % G, n = item / G;
                double mu = Mean[item], r = Rstd[item];
                // With xhat = (x - mean) * rstd and dxhat = dy * w:
                // dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)).
                double sumDxhat = 0, sumDxhatXhat = 0;
                for (int ch = 0; ch < cg; ch++)
                {
                    int cc = g * cg + ch;
                    var dyr = new ReadOnlySpan<float>(DY + off + (long)ch * L, L);
                    var xr = new ReadOnlySpan<float>(X + off + (long)ch * L, L);
                    double sdy = Sum(dyr), sdyx = Dot(dyr, xr);
                    double dyXhat = r * (sdyx - mu * sdy);
                    DB[(long)n * C + cc] = (float)sdy;
                    DW[(long)n * C + cc] = (float)dyXhat;
                    double wc = W != null ? W[cc] : 1.0;
                    sumDxhat += wc * sdy;
                    sumDxhatXhat += wc * dyXhat;
                }
                double meanA = sumDxhat / len, meanB = sumDxhatXhat / len;
                float q = (float)(-r * r * meanB);
                float k = (float)(r * (r * meanB * mu - meanA));
                for (int ch = 0; ch < cg; ch++)
                {
                    int cc = g * cg + ch;
                    float p = (float)(r * (W != null ? W[cc] : 1.0));
                    var dyr = new ReadOnlySpan<float>(DY + off + (long)ch * L, L);
                    var xr = new ReadOnlySpan<float>(X + off + (long)ch * L, L);
                    var dxr = new Span<float>(DX + off + (long)ch * L, L);
                    TensorPrimitives.Multiply(dyr, p, dxr);
                    TensorPrimitives.MultiplyAdd(xr, q, dxr, dxr);
                    TensorPrimitives.Add(dxr, k, dxr);
                }
            }
        }
    }
}
