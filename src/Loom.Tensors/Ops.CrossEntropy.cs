using Loom.Tensors.Kernels;

namespace Loom.Tensors;

/// <summary>How a per-sample loss is reduced (PyTorch's reduction argument).</summary>
public enum Reduction { Mean, Sum, None }

public static unsafe partial class Ops
{
    /// <summary>
    /// Cross-entropy of logits (N, V) against integer targets, fused with log-softmax: only the per-row
    /// logsumexp (N) is kept, never the (N, V) probabilities. Returns the per-row losses (0 for ignored rows),
    /// the saved logsumexp and the number of non-ignored targets.
    /// </summary>
    public static Tensor CrossEntropyRows(Tensor logits, ReadOnlySpan<int> targets, int ignoreIndex, out Tensor lse, out int count)
    {
        if (logits.Rank != 2) throw new ShapeMismatchException($"CrossEntropy: logits must be (N, V), got shape {Tensor.ShapeString(logits.Shape)}");
        int n = logits.Shape[0], v = logits.Shape[1];
        if (targets.Length != n) throw new ShapeMismatchException($"CrossEntropy: {targets.Length} targets for logits of shape {Tensor.ShapeString(logits.Shape)}");
        count = 0;
        for (int i = 0; i < n; i++)
        {
            int t = targets[i];
            if (t == ignoreIndex) continue;
            if ((uint)t >= (uint)v) throw new ArgumentOutOfRangeException(nameof(targets), $"CrossEntropy: target {t} at row {i} is out of range for {v} classes");
            count++;
        }
        using var xc = F32Contiguous(logits);
        var loss = Tensor.Empty(n);
        lse = Tensor.Empty(n);
        if (n > 0 && v > 0)
            fixed (int* pt = targets) RowKernels.CrossEntropy(xc.Data, pt, loss.Data, lse.Data, n, v, ignoreIndex);
        return loss;
    }

    /// <summary>
    /// Reduces per-row losses like PyTorch: Mean divides by the number of non-ignored targets (so with every
    /// target ignored it is 0/0 = NaN, as in PyTorch), Sum adds them, None returns them as they are.
    /// </summary>
    public static Tensor ReduceLoss(Tensor rows, int count, Reduction reduction)
    {
        switch (reduction)
        {
            case Reduction.None: return rows.Clone();
            case Reduction.Sum: return SumAll(rows);
            default:
                using (var s = SumAll(rows)) return Tensor.Scalar(s.ToScalar() / count);
        }
    }

    /// <summary>Cross-entropy loss (see <see cref="CrossEntropyRows"/> and <see cref="ReduceLoss"/>).</summary>
    public static Tensor CrossEntropy(Tensor logits, ReadOnlySpan<int> targets, int ignoreIndex = -100, Reduction reduction = Reduction.Mean)
    {
        using var rows = CrossEntropyRows(logits, targets, ignoreIndex, out var lse, out int count);
        lse.Dispose();
        return ReduceLoss(rows, count, reduction);
    }

    /// <summary>
    /// dlogits = (softmax - onehot(target)) * g_row where g_row is the upstream gradient per row: g / count for
    /// Mean (0 when every target is ignored), g for Sum, g[row] for None. Ignored rows get zero.
    /// </summary>
    public static Tensor CrossEntropyBackward(Tensor logits, ReadOnlySpan<int> targets, int ignoreIndex, Tensor lse, int count, Reduction reduction, Tensor g)
    {
        int n = logits.Shape[0], v = logits.Shape[1];
        if (targets.Length != n || lse.Length != n) throw new ShapeMismatchException($"CrossEntropy backward: {targets.Length} targets / lse of shape {Tensor.ShapeString(lse.Shape)} for logits {Tensor.ShapeString(logits.Shape)}");
        using var xc = F32Contiguous(logits);
        using var lc = F32Contiguous(lse);
        using var scale = Tensor.Empty(n);
        if (reduction == Reduction.None)
        {
            if (g.Length != n) throw new ShapeMismatchException($"CrossEntropy backward: gradient of shape {Tensor.ShapeString(g.Shape)} for {n} rows");
            using var gc = F32Contiguous(g);
            gc.Span.CopyTo(scale.Span);
        }
        else
        {
            float gs = g.ToScalar();
            scale.Span.Fill(reduction == Reduction.Sum ? gs : count == 0 ? 0f : gs / count);
        }
        var dx = Tensor.Empty(logits.Shape);
        if (n > 0 && v > 0)
            fixed (int* pt = targets) RowKernels.CrossEntropyBackward(xc.Data, pt, lc.Data, scale.Data, dx.Data, n, v, ignoreIndex);
        return dx;
    }
}
