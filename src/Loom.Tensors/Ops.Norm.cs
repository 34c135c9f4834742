using Loom.Tensors.Kernels;

namespace Loom.Tensors;

public static unsafe partial class Ops
{
    private static void CheckNormParams(Tensor x, Tensor? weight, Tensor? bias, string op)
    {
        if (x.Rank == 0) throw new ShapeMismatchException($"{op}: input must have at least one dimension, got shape {Tensor.ShapeString(x.Shape)}");
        int c = x.Shape[^1];
        if (weight != null && (weight.Rank != 1 || weight.Shape[0] != c))
            throw new ShapeMismatchException($"{op}: weight of shape {Tensor.ShapeString(weight.Shape)} does not match the last dimension of input {Tensor.ShapeString(x.Shape)}");
        if (bias != null && (bias.Rank != 1 || bias.Shape[0] != c))
            throw new ShapeMismatchException($"{op}: bias of shape {Tensor.ShapeString(bias.Shape)} does not match the last dimension of input {Tensor.ShapeString(x.Shape)}");
    }

    /// <summary>
    /// Layer norm over the last dimension: (x - mean) / sqrt(var + eps) * weight + bias (biased variance, as
    /// PyTorch). Returns the per-row mean and rstd (shape x.Shape[..-1]) for the backward.
    /// </summary>
    public static Tensor LayerNorm(Tensor x, Tensor? weight, Tensor? bias, float eps, out Tensor mean, out Tensor rstd)
    {
        CheckNormParams(x, weight, bias, "LayerNorm");
        return NormForward(x, weight, bias, eps, rms: false, out mean, out rstd);
    }

    /// <summary>Layer norm without saving statistics (inference).</summary>
    public static Tensor LayerNorm(Tensor x, Tensor? weight, Tensor? bias, float eps = 1e-5f)
    {
        var y = LayerNorm(x, weight, bias, eps, out var mean, out var rstd);
        mean.Dispose();
        rstd.Dispose();
        return y;
    }

    /// <summary>RMS norm over the last dimension: x / sqrt(mean(x^2) + eps) * weight. Returns the per-row rstd.</summary>
    public static Tensor RmsNorm(Tensor x, Tensor? weight, float eps, out Tensor rstd)
    {
        CheckNormParams(x, weight, null, "RmsNorm");
        var y = NormForward(x, weight, null, eps, rms: true, out var mean, out rstd);
        mean.Dispose();
        return y;
    }

    /// <summary>RMS norm without saving statistics (inference).</summary>
    public static Tensor RmsNorm(Tensor x, Tensor? weight, float eps)
    {
        var y = RmsNorm(x, weight, eps, out var rstd);
        rstd.Dispose();
        return y;
    }

    private static Tensor NormForward(Tensor x, Tensor? weight, Tensor? bias, float eps, bool rms, out Tensor mean, out Tensor rstd)
    {
        int c = x.Shape[^1];
        var statShape = x.Shape[..^1];
        using var xc = F32Contiguous(x);
        using var wc = weight == null ? null : F32Contiguous(weight);
        using var bc = bias == null ? null : F32Contiguous(bias);
        var y = Tensor.Empty(x.Shape);
        mean = rms ? Tensor.Zeros(statShape) : Tensor.Empty(statShape);
        rstd = Tensor.Empty(statShape);
        int rows = c == 0 ? 0 : (int)(x.Length / c);
        if (rows > 0)
            RowKernels.Norm(xc.Data, wc == null ? null : wc.Data, bc == null ? null : bc.Data, y.Data, rms ? null : mean.Data, rstd.Data, rows, c, eps, rms);
        return y;
    }

    /// <summary>
    /// Gradients of layer norm (or RMS norm when <paramref name="mean"/> is null) from the saved statistics:
    /// dx, dweight (when <paramref name="needWeight"/> and a weight exists) and dbias (when <paramref name="needBias"/>).
    /// </summary>
    public static (Tensor? DX, Tensor? DWeight, Tensor? DBias) NormBackward(Tensor x, Tensor? weight, Tensor? mean, Tensor rstd, Tensor g,
        bool needInput = true, bool needWeight = true, bool needBias = true)
    {
        ShapeMismatchException.ThrowIfDifferent(x, g, "norm backward");
        CheckNormParams(x, weight, null, "norm backward");
        int c = x.Shape[^1];
        int rows = c == 0 ? 0 : (int)(x.Length / c);
        bool rms = mean == null;
        using var xc = F32Contiguous(x);
        using var gc = F32Contiguous(g);
        using var wc = weight == null ? null : F32Contiguous(weight);
        using var mc = mean == null ? null : F32Contiguous(mean);
        using var rc = F32Contiguous(rstd);
        float* pm = mc == null ? null : mc.Data;
        Tensor? dx = null, dw = null, db = null;
        if (needInput)
        {
            dx = Tensor.Empty(x.Shape);
            if (rows > 0) RowKernels.NormBackwardInput(xc.Data, wc == null ? null : wc.Data, gc.Data, pm, rc.Data, dx.Data, rows, c, rms);
        }
        needWeight &= weight != null;
        if (needWeight || needBias)
        {
            if (needWeight) dw = Tensor.Zeros(c);
            if (needBias) db = Tensor.Zeros(c);
            if (rows > 0)
            {
                int chunks = (long)rows * c < ParallelThreshold ? 1 : Math.Min(ComputePool.Threads, rows);
                // chunks * 2c doubles of scratch, from the pool like any tensor.
                using var partial = Tensor.Empty(chunks, 4 * c);
                RowKernels.NormBackwardParams(xc.Data, gc.Data, pm, rc.Data, dw == null ? null : dw.Data, db == null ? null : db.Data, (double*)partial.Data, chunks, rows, c);
            }
        }
        return (dx, dw, db);
    }
}
