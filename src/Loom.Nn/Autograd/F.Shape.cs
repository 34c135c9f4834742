using Loom.Tensors;

namespace Loom.Nn;

public static partial class F
{
    /// <summary>Concatenates along <paramref name="dim"/>; each input gets its slice of the gradient.</summary>
    public static Tensor Cat(Tensor[] tensors, int dim)
    {
        var y = Ops.Cat(tensors, dim);
        return Autograd.ShouldRecord(tensors) ? Autograd.Record(y, new CatBackward((Tensor[])tensors.Clone(), y.NormDim(dim))) : y;
    }

    /// <summary>
    /// Splits along <paramref name="dim"/> into pieces of the given sizes (views). Each piece's gradient is added
    /// straight into its slice of the input's gradient, so no piece needs a full-size zero-padded temporary.
    /// </summary>
    public static Tensor[] Split(Tensor t, int[] sizes, int dim)
    {
        var parts = Ops.Split(t, sizes, dim);
        if (!Autograd.ShouldRecord(t)) return parts;
        int d = t.NormDim(dim), start = 0;
        for (int i = 0; i < parts.Length; i++)
        {
            Autograd.Record(parts[i], new SliceBackward(t, d, start));
            start += sizes[i];
        }
        return parts;
    }

    /// <summary>
    /// Inverted dropout: in training, zeroes elements with probability <paramref name="p"/> (mask drawn from
    /// <paramref name="rng"/>) and scales the others by 1/(1-p); otherwise the identity (a view).
    /// </summary>
    public static Tensor Dropout(Tensor x, float p, bool training, Rng rng)
    {
        if (!(p >= 0f && p <= 1f)) throw new ArgumentOutOfRangeException(nameof(p), $"Dropout: probability {p} is not in [0, 1]");
        if (!training || p == 0f) return Reshape(x, x.Shape);
        var y = Ops.Dropout(x, p, rng, out var mask);
        if (!Autograd.ShouldRecord(x)) { mask.Dispose(); return y; }
        return Autograd.Record(y, new DropoutBackward(x, mask));
    }

    private sealed class CatBackward(Tensor[] parts, int dim) : GradFn(parts)
    {
        public override void Backward(Tensor output, Tensor g)
        {
            int start = 0;
            foreach (var t in Inputs)
            {
                int len = t.Shape[dim];
                if (t.RequiresGrad)
                {
                    using var slice = g.Slice(dim, start, len);
                    Autograd.Accumulate(t, slice.Contiguous(), owned: true);
                }
                start += len;
            }
        }
    }

    private sealed class SliceBackward(Tensor t, int dim, int start) : GradFn(t)
    {
        public override void Backward(Tensor output, Tensor g)
        {
            if (!t.RequiresGrad) return;
            if (t.Grad == null) Autograd.Accumulate(t, Tensor.Zeros(t.Shape), owned: true);
            Ops.AddIntoSlice(t.Grad!, g, dim, start);
        }
    }

    private sealed class DropoutBackward(Tensor x, Tensor mask) : GradFn(x)
    {
        public override void Backward(Tensor output, Tensor g)
        {
            Autograd.Accumulate(x, Ops.Mul(g, mask), owned: true);
            mask.Dispose();
        }
    }
}
