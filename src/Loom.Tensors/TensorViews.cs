namespace Loom.Tensors;

public sealed unsafe partial class Tensor
{
    /// <summary>A view with a new shape (one dimension may be -1). Copies only when the tensor is not contiguous.</summary>
    public Tensor Reshape(params int[] shape)
    {
        var s = InferShape(shape);
        if (IsContiguous) return NewView(s, ContiguousStrides(s), Offset);
        using var c = Contiguous();
        return c.NewView(s, ContiguousStrides(s), c.Offset);
    }

    /// <summary>A view with a new shape; throws when the tensor is not contiguous.</summary>
    public Tensor View(params int[] shape)
    {
        if (!IsContiguous) throw new InvalidOperationException($"View of a non-contiguous tensor of shape {ShapeString(Shape)}; use Reshape");
        var s = InferShape(shape);
        return NewView(s, ContiguousStrides(s), Offset);
    }

    private int[] InferShape(int[] shape)
    {
        var s = (int[])shape.Clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == -1)
            {
                if (infer >= 0) throw new ArgumentException($"only one dimension can be -1 in {ShapeString(shape)}");
                infer = i;
            }
            else known *= s[i];
        }
        if (infer >= 0)
        {
            if (known == 0 || Length % known != 0) throw new ShapeMismatchException($"cannot reshape tensor of shape {ShapeString(Shape)} into {ShapeString(shape)}");
            s[infer] = (int)(Length / known);
        }
        if (CheckShape(s) != Length) throw new ShapeMismatchException($"cannot reshape tensor of shape {ShapeString(Shape)} ({Length} elements) into {ShapeString(shape)}");
        return s;
    }

    /// <summary>Swaps two dimensions (a view).</summary>
    public Tensor Transpose(int dim0, int dim1)
    {
        int a = NormDim(dim0), b = NormDim(dim1);
        var s = (int[])Shape.Clone();
        var st = (int[])Strides.Clone();
        (s[a], s[b]) = (s[b], s[a]);
        (st[a], st[b]) = (st[b], st[a]);
        return NewView(s, st, Offset);
    }

    /// <summary>Reorders dimensions (a view): result dim i is input dim perm[i].</summary>
    public Tensor Permute(params int[] perm)
    {
        if (perm.Length != Rank) throw new ArgumentException($"permutation {ShapeString(perm)} does not match rank {Rank}");
        var seen = new bool[Rank];
        var s = new int[Rank];
        var st = new int[Rank];
        for (int i = 0; i < Rank; i++)
        {
            int p = NormDim(perm[i]);
            if (seen[p]) throw new ArgumentException($"permutation {ShapeString(perm)} repeats dimension {p}");
            seen[p] = true;
            s[i] = Shape[p];
            st[i] = Strides[p];
        }
        return NewView(s, st, Offset);
    }

    /// <summary>Elements [start, start+length) along a dimension (a view).</summary>
    public Tensor Slice(int dim, int start, int length)
    {
        int d = NormDim(dim);
        if (start < 0 || length < 0 || start + length > Shape[d])
            throw new ArgumentOutOfRangeException(nameof(start), $"slice [{start}, {start + length}) is out of range for dimension {d} of shape {ShapeString(Shape)}");
        var s = (int[])Shape.Clone();
        s[d] = length;
        return NewView(s, (int[])Strides.Clone(), Offset + (long)start * Strides[d]);
    }

    /// <summary>Index <paramref name="index"/> along a dimension, removing it (a view).</summary>
    public Tensor Select(int dim, int index)
    {
        int d = NormDim(dim);
        if ((uint)index >= (uint)Shape[d]) throw new ArgumentOutOfRangeException(nameof(index), $"index {index} is out of range for dimension {d} of shape {ShapeString(Shape)}");
        var s = new List<int>(Shape);
        var st = new List<int>(Strides);
        s.RemoveAt(d);
        st.RemoveAt(d);
        return NewView(s.ToArray(), st.ToArray(), Offset + (long)index * Strides[d]);
    }

    /// <summary>Inserts a dimension of size 1 (a view).</summary>
    public Tensor Unsqueeze(int dim)
    {
        int d = dim < 0 ? dim + Rank + 1 : dim;
        if (d < 0 || d > Rank) throw new ArgumentOutOfRangeException(nameof(dim));
        var s = new List<int>(Shape);
        var st = new List<int>(Strides);
        s.Insert(d, 1);
        st.Insert(d, d < Rank ? Strides[d] * Shape[d] : 1);
        return NewView(s.ToArray(), st.ToArray(), Offset);
    }

    /// <summary>Removes a dimension of size 1 (a view).</summary>
    public Tensor Squeeze(int dim)
    {
        int d = NormDim(dim);
        if (Shape[d] != 1) throw new ArgumentException($"cannot squeeze dimension {d} of size {Shape[d]}");
        var s = new List<int>(Shape);
        var st = new List<int>(Strides);
        s.RemoveAt(d);
        st.RemoveAt(d);
        return NewView(s.ToArray(), st.ToArray(), Offset);
    }

    /// <summary>Broadcasts to a larger shape with zero strides (a view, numpy rules).</summary>
    public Tensor BroadcastTo(params int[] shape)
    {
        if (shape.Length < Rank) throw new ShapeMismatchException($"cannot broadcast shape {ShapeString(Shape)} to {ShapeString(shape)}");
        var st = new int[shape.Length];
        int lead = shape.Length - Rank;
        for (int i = 0; i < shape.Length; i++)
        {
            if (i < lead) { st[i] = 0; continue; }
            int src = Shape[i - lead];
            if (src == shape[i]) st[i] = Strides[i - lead];
            else if (src == 1) st[i] = 0;
            else throw new ShapeMismatchException($"cannot broadcast shape {ShapeString(Shape)} to {ShapeString(shape)}");
        }
        return NewView((int[])shape.Clone(), st, Offset);
    }

    /// <summary>The broadcast shape of two shapes (numpy rules), or a <see cref="ShapeMismatchException"/> naming both.</summary>
    public static int[] BroadcastShape(ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        int r = Math.Max(a.Length, b.Length);
        var s = new int[r];
        for (int i = 0; i < r; i++)
        {
            int da = i - (r - a.Length) >= 0 ? a[i - (r - a.Length)] : 1;
            int db = i - (r - b.Length) >= 0 ? b[i - (r - b.Length)] : 1;
            if (da != db && da != 1 && db != 1)
                throw new ShapeMismatchException($"shapes {ShapeString(a)} and {ShapeString(b)} cannot be broadcast together");
            s[i] = da == 1 ? db : da;
        }
        return s;
    }

    /// <summary>This tensor when contiguous (same object, not a copy), else a contiguous copy.</summary>
    public Tensor Contiguous()
    {
        if (IsContiguous) { return NewView(Shape, Strides, Offset); }
        var t = Empty(Shape, DType);
        StridedCopy.Copy(this, t.RawData);
        return t;
    }

    /// <summary>A contiguous copy with its own storage.</summary>
    public Tensor Clone()
    {
        var t = Empty(Shape, DType);
        if (IsContiguous)
        {
            long bytes = Length * DTypeInfo.SizeOf(DType);
            Buffer.MemoryCopy(RawData, t.RawData, bytes, bytes);
        }
        else StridedCopy.Copy(this, t.RawData);
        return t;
    }

    /// <summary>Copies <paramref name="src"/> (broadcast to this shape) into this tensor, converting dtype.</summary>
    public void CopyFrom(Tensor src)
    {
        using var b = SameShape(src.Shape, Shape) ? src.NewView(src.Shape, src.Strides, src.Offset) : src.BroadcastTo(Shape);
        if (b.DType == DType && IsContiguous)
        {
            if (b.IsContiguous)
            {
                long bytes = Length * DTypeInfo.SizeOf(DType);
                Buffer.MemoryCopy(b.RawData, RawData, bytes, bytes);
            }
            else StridedCopy.Copy(b, RawData);
            return;
        }
        using var f = b.DType == DType.F32 ? b.Contiguous() : b.ToDType(DType.F32);
        if (DType == DType.F32 && IsContiguous) { f.Span.CopyTo(Span); return; }
        using var conv = DType == DType.F32 ? f.NewView(f.Shape, f.Strides, f.Offset) : f.ToDType(DType);
        StridedCopy.CopyInto(conv, this);
    }

    /// <summary>A contiguous copy converted to <paramref name="dtype"/>.</summary>
    public Tensor ToDType(DType dtype)
    {
        using var c = Contiguous();
        var t = Empty(Shape, dtype);
        int n = checked((int)Length);
        HalfConvert.Convert(c.RawData, c.DType, t.RawData, dtype, n);
        return t;
    }

    public static bool SameShape(ReadOnlySpan<int> a, ReadOnlySpan<int> b) => a.SequenceEqual(b);
}
