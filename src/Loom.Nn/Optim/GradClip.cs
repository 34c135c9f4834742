using System.Numerics.Tensors;
using Loom.Tensors;
using Tensor = Loom.Tensors.Tensor;

namespace Loom.Nn;

/// <summary>Gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_.</summary>
public static class GradClip
{
    /// <summary>
    /// Scales every gradient by min(1, maxNorm / (total + 1e-6)) where total is the L2 norm of all gradients
    /// together, and returns total (before clipping). Parameters without a gradient are ignored; a non-finite
    /// total is returned as is (the gradients then become NaN, as in PyTorch).
    /// </summary>
    public static float ClipGradNorm(IEnumerable<Tensor> parameters, double maxNorm)
    {
        if (!(maxNorm > 0)) throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "max norm must be > 0");
        var list = parameters as IReadOnlyCollection<Tensor> ?? parameters.ToList(); // enumerated twice
        // PyTorch takes the norm of each gradient (rounded to float), then the norm of those norms.
        double sumSquares = 0;
        int count = 0;
        foreach (var p in list)
        {
            if (p.Grad is not { } g) continue;
            float n = (float)Math.Sqrt(SumOfSquares(g.Span));
            sumSquares += (double)n * n;
            count++;
        }
        if (count == 0) return 0f;
        float total = (float)Math.Sqrt(sumSquares);
        // torch computes max_norm / t as t.reciprocal() * max_norm, in float.
        float coef = 1f / (total + 1e-6f) * (float)maxNorm;
        if (coef < 1f)
            foreach (var p in list)
                if (p.Grad is { } g) TensorPrimitives.Multiply(g.Span, coef, g.Span);
        return total;
    }

    /// <summary>Sum of squares in float blocks accumulated in double, so long gradients lose no precision.</summary>
    private static double SumOfSquares(ReadOnlySpan<float> s)
    {
        const int Block = 4096;
        double acc = 0;
        for (int i = 0; i < s.Length; i += Block) acc += TensorPrimitives.SumOfSquares(s.Slice(i, Math.Min(Block, s.Length - i)));
        return acc;
    }
}
