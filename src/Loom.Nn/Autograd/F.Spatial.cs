using Loom.Tensors;

namespace Loom.Nn;

public static partial class F
{
    /// <summary>Group normalisation of x (N, C, ...) with optional per-channel weight and bias (C).</summary>
    public static Tensor GroupNorm(Tensor x, int groups, Tensor? weight = null, Tensor? bias = null, float eps = 1e-5f)
    {
        Tensor[] operands = weight == null ? bias == null ? [x] : [x, bias] : bias == null ? [x, weight] : [x, weight, bias];
        if (!Autograd.ShouldRecord(operands)) return Ops.GroupNorm(x, groups, weight, bias, eps);
        var y = Ops.GroupNorm(x, groups, weight, bias, eps, out var mean, out var rstd);
        return Autograd.Record(y, new GroupNormBackwardFn(operands, x, groups, weight, bias, mean, rstd));
    }

    /// <summary>Nearest-neighbour upsampling of x (N, C, H, W) by an integer factor in both directions.</summary>
    public static Tensor UpsampleNearest(Tensor x, int scale) => UpsampleNearest(x, scale, scale);

    public static Tensor UpsampleNearest(Tensor x, int scaleH, int scaleW)
    {
        var y = Ops.UpsampleNearest(x, scaleH, scaleW);
        return Autograd.ShouldRecord(x) ? Autograd.Record(y, new UpsampleNearestBackwardFn(x, scaleH, scaleW)) : y;
    }

    /// <summary>Average pooling (N, C, H, W) with a square kernel; the stride defaults to the kernel size, as in PyTorch.</summary>
    public static Tensor AvgPool2d(Tensor x, int kernel, int? stride = null, int padding = 0) =>
        AvgPool2d(x, (kernel, kernel), (stride ?? kernel, stride ?? kernel), (padding, padding));

    public static Tensor AvgPool2d(Tensor x, (int H, int W) kernel, (int H, int W) stride, (int H, int W) padding = default)
    {
        var y = Ops.AvgPool2d(x, kernel, stride, padding);
        return Autograd.ShouldRecord(x) ? Autograd.Record(y, new AvgPool2dBackwardFn(x, kernel, stride, padding)) : y;
    }

    private sealed class GroupNormBackwardFn(Tensor[] operands, Tensor x, int groups, Tensor? weight, Tensor? bias, Tensor mean, Tensor rstd) : GradFn(operands)
    {
        public override void Backward(Tensor output, Tensor g)
        {
            var dx = Ops.GroupNormBackward(x, groups, weight, mean, rstd, g, weight is { RequiresGrad: true }, bias is { RequiresGrad: true }, out var dw, out var db);
            mean.Dispose();
            rstd.Dispose();
            Autograd.Accumulate(x, dx, owned: true);
            if (dw != null) Autograd.Accumulate(weight!, dw, owned: true);
            if (db != null) Autograd.Accumulate(bias!, db, owned: true);
        }
    }

    private sealed class UpsampleNearestBackwardFn(Tensor x, int sh, int sw) : GradFn(x)
    {
        public override void Backward(Tensor output, Tensor g) => Autograd.Accumulate(x, Ops.UpsampleNearestBackward(g, sh, sw), owned: true);
    }

    private sealed class AvgPool2dBackwardFn(Tensor x, (int, int) kernel, (int, int) stride, (int, int) padding) : GradFn(x)
    {
        public override void Backward(Tensor output, Tensor g) => Autograd.Accumulate(x, Ops.AvgPool2dBackward(g, x.Shape, kernel, stride, padding), owned: true);
    }
}
