using System.Numerics.Tensors;

namespace Loom.Tensors;

public static unsafe partial class Ops
{
    /// <summary>Sum of all elements as a 0-d tensor (accumulated in float64 blocks for accuracy).</summary>
    public static Tensor SumAll(Tensor a)
    {
        using var c = F32Contiguous(a);
        var s = c.Span;
        double acc = 0;
        const int Block = 4096;
        for (int i = 0; i < s.Length; i += Block) acc += TensorPrimitives.Sum(s.Slice(i, Math.Min(Block, s.Length - i)));
        return Tensor.Scalar((float)acc);
    }
}
