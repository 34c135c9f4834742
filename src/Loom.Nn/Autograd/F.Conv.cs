using Loom.Tensors;

namespace Loom.Nn;

public static partial class F
{
    /// <summary>2-D convolution, x (N, Cin, H, W), weight (Cout, Cin/groups, KH, KW), optional bias (Cout); see <see cref="Ops.Conv2d(Tensor, Tensor, Tensor?, ValueTuple{int, int}, ValueTuple{int, int}, int)"/>.</summary>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias, int stride = 1, int padding = 0, int groups = 1) =>
        Conv2d(x, weight, bias, (stride, stride), (padding, padding), groups);

    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias, (int H, int W) stride, (int H, int W) padding, int groups = 1)
    {
        var y = Ops.Conv2d(x, weight, bias, stride, padding, groups);
        bool record = bias == null ? Autograd.ShouldRecord(x, weight) : Autograd.ShouldRecord([x, weight, bias]);
        return record ? Autograd.Record(y, new Conv2dBackwardFn(x, weight, bias, stride, padding, groups)) : y;
    }

    /// <summary>Transposed 2-D convolution (PyTorch's ConvTranspose2d): weight (Cin, Cout/groups, KH, KW).</summary>
    public static Tensor ConvTranspose2d(Tensor x, Tensor weight, Tensor? bias, int stride = 1, int padding = 0, int outputPadding = 0, int groups = 1) =>
        ConvTranspose2d(x, weight, bias, (stride, stride), (padding, padding), (outputPadding, outputPadding), groups);

    public static Tensor ConvTranspose2d(Tensor x, Tensor weight, Tensor? bias, (int H, int W) stride, (int H, int W) padding, (int H, int W) outputPadding, int groups = 1)
    {
        var y = Ops.ConvTranspose2d(x, weight, bias, stride, padding, outputPadding, groups);
        bool record = bias == null ? Autograd.ShouldRecord(x, weight) : Autograd.ShouldRecord([x, weight, bias]);
        return record ? Autograd.Record(y, new ConvTranspose2dBackwardFn(x, weight, bias, stride, padding, outputPadding, groups)) : y;
    }

    private static Tensor[] Operands(Tensor x, Tensor w, Tensor? b) => b == null ? [x, w] : [x, w, b];

    private sealed class Conv2dBackwardFn(Tensor x, Tensor w, Tensor? b, (int, int) stride, (int, int) padding, int groups) : GradFn(Operands(x, w, b))
    {
        public override void Backward(Tensor output, Tensor g)
        {
            Ops.Conv2dBackward(x, w, g, stride, padding, groups, x.RequiresGrad, w.RequiresGrad, b is { RequiresGrad: true },
                out var dx, out var dw, out var db);
            if (dx != null) Autograd.Accumulate(x, dx, owned: true);
            if (dw != null) Autograd.Accumulate(w, dw, owned: true);
            if (db != null) Autograd.Accumulate(b!, db, owned: true);
        }
    }

    private sealed class ConvTranspose2dBackwardFn(Tensor x, Tensor w, Tensor? b, (int, int) stride, (int, int) padding, (int, int) outputPadding, int groups)
        : GradFn(Operands(x, w, b))
    {
        public override void Backward(Tensor output, Tensor g)
        {
            Ops.ConvTranspose2dBackward(x, w, g, stride, padding, outputPadding, groups, x.RequiresGrad, w.RequiresGrad, b is { RequiresGrad: true },
                out var dx, out var dw, out var db);
            if (dx != null) Autograd.Accumulate(x, dx, owned: true);
            if (dw != null) Autograd.Accumulate(w, dw, owned: true);
            if (db != null) Autograd.Accumulate(b!, db, owned: true);
        }
    }
}
