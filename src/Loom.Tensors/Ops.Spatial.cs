using Loom.Tensors.Kernels;

namespace Loom.Tensors;

public static unsafe partial class Ops
{
    /// <summary>
    /// Group normalisation of x (N, C, ...) over <paramref name="groups"/> groups of C/groups channels, with optional
    /// per-channel weight and bias (C). Also returns the per-group mean and 1/std (N, groups) for the backward pass.
    /// </summary>
    public static Tensor GroupNorm(Tensor x, int groups, Tensor? weight, Tensor? bias, float eps, out Tensor mean, out Tensor rstd)
    {
        var (n, c, inner) = CheckGroupNorm(x, groups, weight, bias);
        using var xc = F32Contiguous(x);
        using var wc = weight == null ? null : F32Contiguous(weight);
        using var bc = bias == null ? null : F32Contiguous(bias);
        var y = Tensor.Empty(x.Shape);
        mean = Tensor.Empty(n, groups);
        rstd = Tensor.Empty(n, groups);
        GroupNormKernel.Forward(xc.Data, wc == null ? null : wc.Data, bc == null ? null : bc.Data, y.Data, mean.Data, rstd.Data, n, c, groups, inner, eps);
        return y;
    }

    /// <summary>Group normalisation without the saved statistics (inference).</summary>
    public static Tensor GroupNorm(Tensor x, int groups, Tensor? weight = null, Tensor? bias = null, float eps = 1e-5f)
    {
        var y = GroupNorm(x, groups, weight, bias, eps, out var mean, out var rstd);
        mean.Dispose();
        rstd.Dispose();
        return y;
    }

    /// <summary>Gradients of <see cref="GroupNorm(Tensor, int, Tensor?, Tensor?, float, out Tensor, out Tensor)"/>: dx always; dweight and dbias (C) when asked.</summary>
    public static Tensor GroupNormBackward(Tensor x, int groups, Tensor? weight, Tensor mean, Tensor rstd, Tensor gradOutput,
        bool needWeight, bool needBias, out Tensor? gradWeight, out Tensor? gradBias)
    {
        var (n, c, inner) = CheckGroupNorm(x, groups, weight, null);
        ShapeMismatchException.ThrowIfDifferent(x, gradOutput, "GroupNormBackward");
        using var xc = F32Contiguous(x);
        using var wc = weight == null ? null : F32Contiguous(weight);
        using var gc = F32Contiguous(gradOutput);
        using var mc = F32Contiguous(mean);
        using var rc = F32Contiguous(rstd);
        var dx = Tensor.Empty(x.Shape);
        using var dwPart = Tensor.Empty(n, c);
        using var dbPart = Tensor.Empty(n, c);
        GroupNormKernel.Backward(xc.Data, wc == null ? null : wc.Data, gc.Data, mc.Data, rc.Data, dx.Data, dwPart.Data, dbPart.Data, n, c, groups, inner);
        gradWeight = needWeight ? SumRows(dwPart) : null;
        gradBias = needBias ? SumRows(dbPart) : null;
        return dx;
    }

    private static (int N, int C, int Inner) CheckGroupNorm(Tensor x, int groups, Tensor? weight, Tensor? bias)
    {
        if (x.Rank < 2) throw new ShapeMismatchException($"GroupNorm needs input (N, C, ...), got {Tensor.ShapeString(x.Shape)}");
        int n = x.Shape[0], c = x.Shape[1];
        if (groups < 1 || c % groups != 0) throw new ShapeMismatchException($"GroupNorm: {groups} group(s) do not divide the channels of {Tensor.ShapeString(x.Shape)}");
        if (weight != null && !Tensor.SameShape(weight.Shape, [c])) throw new ShapeMismatchException($"GroupNorm: weight {Tensor.ShapeString(weight.Shape)} does not match input {Tensor.ShapeString(x.Shape)}");
        if (bias != null && !Tensor.SameShape(bias.Shape, [c])) throw new ShapeMismatchException($"GroupNorm: bias {Tensor.ShapeString(bias.Shape)} does not match input {Tensor.ShapeString(x.Shape)}");
        int inner = (int)(x.Length / Math.Max(1L, (long)n * c));
        return (n, c, inner);
    }

    /// <summary>Sum over the rows of a contiguous (R, C) tensor, in double.</summary>
    private static Tensor SumRows(Tensor m)
    {
        int r = m.Shape[0], c = m.Shape[1];
        var result = Tensor.Empty(c);
        for (int j = 0; j < c; j++)
        {
            double s = 0;
            for (int i = 0; i < r; i++) s += m.Data[(long)i * c + j];
            result.Data[j] = (float)s;
        }
        return result;
    }

    /// <summary>Nearest-neighbour upsampling of x (N, C, H, W) by integer factors: (N, C, H*scaleH, W*scaleW).</summary>
    public static Tensor UpsampleNearest(Tensor x, int scaleH, int scaleW)
    {
        CheckImage(x, "UpsampleNearest");
        if (scaleH < 1 || scaleW < 1) throw new ArgumentOutOfRangeException(nameof(scaleH), $"UpsampleNearest: scale factors ({scaleH}, {scaleW}) must be positive");
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        using var xc = F32Contiguous(x);
        var y = Tensor.Empty(n, c, h * scaleH, w * scaleW);
        Resample.UpsampleNearest(xc.Data, y.Data, n * c, h, w, scaleH, scaleW);
        return y;
    }

    /// <summary>Gradient of <see cref="UpsampleNearest"/>: block sums of the output gradient, shaped like x (N, C, H, W).</summary>
    public static Tensor UpsampleNearestBackward(Tensor gradOutput, int scaleH, int scaleW)
    {
        CheckImage(gradOutput, "UpsampleNearestBackward");
        int n = gradOutput.Shape[0], c = gradOutput.Shape[1], oh = gradOutput.Shape[2], ow = gradOutput.Shape[3];
        if (scaleH < 1 || scaleW < 1 || oh % scaleH != 0 || ow % scaleW != 0)
            throw new ShapeMismatchException($"UpsampleNearestBackward: gradient {Tensor.ShapeString(gradOutput.Shape)} is not a ({scaleH}, {scaleW}) upsampling");
        using var gc = F32Contiguous(gradOutput);
        var dx = Tensor.Empty(n, c, oh / scaleH, ow / scaleW);
        Resample.UpsampleNearestBackward(gc.Data, dx.Data, n * c, oh / scaleH, ow / scaleW, scaleH, scaleW);
        return dx;
    }

    /// <summary>
    /// Average pooling of x (N, C, H, W) with PyTorch's AvgPool2d defaults (floor mode, zero padding counted in the
    /// divisor). Output (N, C, (H + 2*padH - kh) / strideH + 1, ...).
    /// </summary>
    public static Tensor AvgPool2d(Tensor x, (int H, int W) kernel, (int H, int W) stride, (int H, int W) padding = default)
    {
        var (oh, ow) = CheckPool(x.Shape, kernel, stride, padding, "AvgPool2d");
        int n = x.Shape[0], c = x.Shape[1];
        using var xc = F32Contiguous(x);
        var y = Tensor.Empty(n, c, oh, ow);
        Resample.AvgPool(xc.Data, y.Data, n * c, x.Shape[2], x.Shape[3], kernel.H, kernel.W, stride.H, stride.W, padding.H, padding.W, backward: false);
        return y;
    }

    /// <summary>Gradient of <see cref="AvgPool2d"/> for an input of shape <paramref name="inputShape"/>.</summary>
    public static Tensor AvgPool2dBackward(Tensor gradOutput, int[] inputShape, (int H, int W) kernel, (int H, int W) stride, (int H, int W) padding = default)
    {
        var (oh, ow) = CheckPool(inputShape, kernel, stride, padding, "AvgPool2dBackward");
        if (!Tensor.SameShape(gradOutput.Shape, [inputShape[0], inputShape[1], oh, ow]))
            throw new ShapeMismatchException($"AvgPool2dBackward: gradient {Tensor.ShapeString(gradOutput.Shape)} does not match input {Tensor.ShapeString(inputShape)}");
        using var gc = F32Contiguous(gradOutput);
        var dx = Tensor.Empty(inputShape);
        Resample.AvgPool(dx.Data, gc.Data, inputShape[0] * inputShape[1], inputShape[2], inputShape[3], kernel.H, kernel.W, stride.H, stride.W, padding.H, padding.W, backward: true);
        return dx;
    }

    private static void CheckImage(Tensor x, string op)
    {
        if (x.Rank != 4) throw new ShapeMismatchException($"{op} needs (N, C, H, W), got {Tensor.ShapeString(x.Shape)}");
    }

    private static (int OH, int OW) CheckPool(int[] shape, (int H, int W) k, (int H, int W) s, (int H, int W) p, string op)
    {
        if (shape.Length != 4) throw new ShapeMismatchException($"{op} needs (N, C, H, W), got {Tensor.ShapeString(shape)}");
        if (k.H < 1 || k.W < 1 || s.H < 1 || s.W < 1 || p.H < 0 || p.W < 0 || 2 * p.H > k.H || 2 * p.W > k.W)
            throw new ArgumentException($"{op}: invalid kernel {k}, stride {s} or padding {p} (padding may be at most half the kernel)");
        if (shape[2] + 2 * p.H < k.H || shape[3] + 2 * p.W < k.W)
            throw new ShapeMismatchException($"{op}: kernel {k} is larger than the padded input {Tensor.ShapeString(shape)}");
        return ((shape[2] + 2 * p.H - k.H) / s.H + 1, (shape[3] + 2 * p.W - k.W) / s.W + 1);
    }
}
