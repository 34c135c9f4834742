using Loom.Tensors;

namespace Loom.Nn;

public static partial class F
{
    /// <summary>
    /// Cross-entropy of logits (N, V) against integer class targets (N), fused with log-softmax: the forward keeps
    /// only the per-row logsumexp, the backward is (softmax - onehot) scaled by the upstream gradient.
    /// Targets equal to <paramref name="ignoreIndex"/> contribute nothing; Mean divides by the number of the
    /// others. With every target ignored, Mean is NaN (0/0) exactly as in PyTorch, and the gradient is zero.
    /// </summary>
    public static Tensor CrossEntropy(Tensor logits, int[] targets, int ignoreIndex = -100, Reduction reduction = Reduction.Mean)
    {
        var rows = Ops.CrossEntropyRows(logits, targets, ignoreIndex, out var lse, out int count);
        Tensor y;
        using (rows) y = Ops.ReduceLoss(rows, count, reduction);
        if (!Autograd.ShouldRecord(logits)) { lse.Dispose(); return y; }
        return Autograd.Record(y, new CrossEntropyBackwardFn(logits, (int[])targets.Clone(), ignoreIndex, lse, count, reduction));
    }

    /// <summary>Cross-entropy with targets given as an F32 tensor of integer values (N).</summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor targets, int ignoreIndex = -100, Reduction reduction = Reduction.Mean) =>
        CrossEntropy(logits, Ops.ToIndices(targets), ignoreIndex, reduction);

    private sealed class CrossEntropyBackwardFn(Tensor logits, int[] targets, int ignoreIndex, Tensor lse, int count, Reduction reduction) : GradFn(logits)
    {
        public override void Backward(Tensor output, Tensor g)
        {
            Autograd.Accumulate(logits, Ops.CrossEntropyBackward(logits, targets, ignoreIndex, lse, count, reduction, g), owned: true);
            lse.Dispose();
        }
    }
}
