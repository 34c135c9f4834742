using Loom.Tensors;

namespace Loom.Nn;

public static partial class F
{
    /// <summary>
    /// Looks up rows of <paramref name="weight"/> (V, C) for integer <paramref name="ids"/> laid out as
    /// <paramref name="idShape"/>: result (idShape..., C). The backward scatter-adds into a dense (V, C) gradient.
    /// An id outside [0, V) throws, naming the id and V. As in PyTorch, the row <paramref name="paddingIdx"/>
    /// (when given) receives no gradient.
    /// </summary>
    public static Tensor Embedding(Tensor weight, int[] ids, int[] idShape, int? paddingIdx = null)
    {
        var y = Ops.Embedding(weight, ids, idShape);
        // Copy the ids: the caller may reuse its buffer for the next batch before backward runs.
        return Autograd.ShouldRecord(weight) ? Autograd.Record(y, new EmbeddingBackwardFn(weight, (int[])ids.Clone(), paddingIdx)) : y;
    }

    /// <summary>Embedding lookup with ids given as an F32 tensor of integer values (any shape).</summary>
    public static Tensor Embedding(Tensor weight, Tensor ids, int? paddingIdx = null) => Embedding(weight, Ops.ToIndices(ids), ids.Shape, paddingIdx);

    private sealed class EmbeddingBackwardFn(Tensor weight, int[] ids, int? paddingIdx) : GradFn(weight)
    {
        public override void Backward(Tensor output, Tensor g)
        {
            var dw = Ops.EmbeddingBackward(g, ids, weight.Shape[0]);
            if (paddingIdx is int p) dw.Span.Slice(p * dw.Shape[1], dw.Shape[1]).Clear();
            Autograd.Accumulate(weight, dw, owned: true);
        }
    }
}
