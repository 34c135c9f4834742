using Loom.Tensors;

namespace Loom.Nn;

public static partial class F
{
    /// <summary>Sum along <paramref name="dim"/> (kept as size 1 with <paramref name="keepDim"/>).</summary>
    public static Tensor Sum(Tensor x, int dim, bool keepDim = false)
    {
        var y = Ops.Sum(x, dim, keepDim);
        return Autograd.ShouldRecord(x) ? Autograd.Record(y, new ExpandBackward(x, x.NormDim(dim), 1f)) : y;
    }

    /// <summary>Mean along <paramref name="dim"/>.</summary>
    public static Tensor Mean(Tensor x, int dim, bool keepDim = false)
    {
        var y = Ops.Mean(x, dim, keepDim);
        int d = x.NormDim(dim);
        return Autograd.ShouldRecord(x) ? Autograd.Record(y, new ExpandBackward(x, d, 1f / x.Shape[d])) : y;
    }

    /// <summary>
    /// Max along <paramref name="dim"/>: values (differentiable; the gradient goes to the argmax) and indices
    /// (integers in an F32 tensor, no gradient).
    /// </summary>
    public static (Tensor Values, Tensor Indices) Max(Tensor x, int dim, bool keepDim = false)
    {
        var (values, indices) = Ops.Max(x, dim, keepDim);
        if (Autograd.ShouldRecord(x))
        {
            // The backward holds its own view so the caller may dispose the indices it got.
            var saved = indices.Reshape(indices.Shape);
            Autograd.Record(values, new MaxBackwardFn(x, x.NormDim(dim), saved));
        }
        return (values, indices);
    }

    /// <summary>Index of the maximum along <paramref name="dim"/> (F32 integers; not differentiable).</summary>
    public static Tensor ArgMax(Tensor x, int dim, bool keepDim = false) => Ops.ArgMax(x, dim, keepDim);

    /// <summary>Variance along <paramref name="dim"/> dividing by n - correction (1 = unbiased, PyTorch's default).</summary>
    public static Tensor Var(Tensor x, int dim, bool keepDim = false, int correction = 1)
    {
        var y = Ops.Var(x, dim, keepDim, correction);
        return Autograd.ShouldRecord(x) ? Autograd.Record(y, new VarBackwardFn(x, x.NormDim(dim), correction)) : y;
    }

    /// <summary>Softmax along <paramref name="dim"/> (default last), with a fused backward from the output.</summary>
    public static Tensor Softmax(Tensor x, int dim = -1)
    {
        var y = Ops.Softmax(x, dim);
        return Autograd.ShouldRecord(x) ? Autograd.Record(y, new SoftmaxBackwardFn(x, dim, false)) : y;
    }

    /// <summary>Log-softmax along <paramref name="dim"/> (default last), with a fused backward from the output.</summary>
    public static Tensor LogSoftmax(Tensor x, int dim = -1)
    {
        var y = Ops.LogSoftmax(x, dim);
        return Autograd.ShouldRecord(x) ? Autograd.Record(y, new SoftmaxBackwardFn(x, dim, true)) : y;
    }

    private sealed class ExpandBackward(Tensor x, int dim, float scale) : GradFn(x)
    {
        public override void Backward(Tensor output, Tensor g) => Autograd.Accumulate(x, Ops.ExpandAlongDim(g, x.Shape, dim, scale), owned: true);
    }

    private sealed class MaxBackwardFn(Tensor x, int dim, Tensor indices) : GradFn(x)
    {
        public override void Backward(Tensor output, Tensor g)
        {
            Autograd.Accumulate(x, Ops.MaxBackward(g, indices, x.Shape, dim), owned: true);
            indices.Dispose();
        }
    }

    private sealed class VarBackwardFn(Tensor x, int dim, int correction) : GradFn(x)
    {
        public override void Backward(Tensor output, Tensor g) => Autograd.Accumulate(x, Ops.VarBackward(x, g, dim, correction), owned: true);
    }

    private sealed class SoftmaxBackwardFn(Tensor x, int dim, bool log) : GradFn(x)
    {
        public override string Name => log ? "LogSoftmaxBackward" : "SoftmaxBackward";

        public override void Backward(Tensor output, Tensor g) =>
            Autograd.Accumulate(x, log ? Ops.LogSoftmaxBackward(output, g, dim) : Ops.SoftmaxBackward(output, g, dim), owned: true);
    }
}
