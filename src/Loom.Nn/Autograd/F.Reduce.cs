using Loom.Tensors;

namespace Loom.Nn;

public static partial class F
{
    /// <summary>Sum of all elements (a 0-d tensor).</summary>
    public static Tensor Sum(Tensor a)
    {
        var y = Ops.SumAll(a);
        return Autograd.ShouldRecord(a) ? Autograd.Record(y, new SumAllBackward(a, 1f)) : y;
    }

    /// <summary>Mean of all elements (a 0-d tensor).</summary>
    public static Tensor Mean(Tensor a)
    {
        using var s = Ops.SumAll(a);
        var y = Ops.Scale(s, 1f / a.Length);
        return Autograd.ShouldRecord(a) ? Autograd.Record(y, new SumAllBackward(a, 1f / a.Length)) : y;
    }

    private sealed class SumAllBackward(Tensor a, float scale) : GradFn(a)
    {
        public override void Backward(Tensor output, Tensor g) => Autograd.Accumulate(a, Tensor.Full(g.ToScalar() * scale, a.Shape), owned: true);
    }
}
