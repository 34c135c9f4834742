using System.Numerics.Tensors;

namespace Loom.Tensors;

public static unsafe partial class Ops
{
    /// <summary>Concatenates tensors along <paramref name="dim"/>; all other dimensions must match.</summary>
    public static Tensor Cat(ReadOnlySpan<Tensor> tensors, int dim)
    {
        if (tensors.Length == 0) throw new ArgumentException("Cat: no tensors given");
        var first = tensors[0];
        int d = dim < 0 ? dim + first.Rank : dim;
        if (first.Rank == 0 || (uint)d >= (uint)first.Rank) throw new ArgumentOutOfRangeException(nameof(dim), $"Cat: dimension {dim} is out of range for shape {Tensor.ShapeString(first.Shape)}");
        int total = 0;
        foreach (var t in tensors)
        {
            bool ok = t.Rank == first.Rank;
            for (int i = 0; ok && i < t.Rank; i++) ok = i == d || t.Shape[i] == first.Shape[i];
            if (!ok) throw new ShapeMismatchException($"Cat along {d}: shapes {Tensor.ShapeString(first.Shape)} and {Tensor.ShapeString(t.Shape)} differ outside that dimension");
            total += t.Shape[d];
        }
        var shape = (int[])first.Shape.Clone();
        shape[d] = total;
        var y = Tensor.Empty(shape);
        var (outer, _, inner) = SplitAt(shape, d);
        long rowOut = (long)total * inner;
        long at = 0;
        foreach (var t in tensors)
        {
            long block = (long)t.Shape[d] * inner;
            if (block > 0)
            {
                using var tc = F32Contiguous(t);
                CopyBlocks(tc.Data, block, y.Data + at, rowOut, outer, block);
            }
            at += block;
        }
        return y;
    }

    /// <summary>Copies <paramref name="rows"/> blocks of <paramref name="len"/> floats between strided rows.</summary>
    private static void CopyBlocks(float* src, long srcStride, float* dst, long dstStride, int rows, long len)
    {
        var body = new CopyBlocksBody { S = src, D = dst, SS = srcStride, DS = dstStride, Len = len };
        ComputePool.For(rows, body, rows * len < ParallelThreshold ? 1 : 0);
    }

    private struct CopyBlocksBody : IRangeBody
    {
        public float* S, D;
        public long SS, DS, Len;

        public readonly void Run(int start, int end)
        {
            long bytes = Len * sizeof(float);
            for (long r = start; r < end; r++) Buffer.MemoryCopy(S + r * SS, D + r * DS, bytes, bytes);
        }
    }

    /// <summary>Splits along <paramref name="dim"/> into pieces of the given sizes (views, no copy); sizes must add up.</summary>
    public static Tensor[] Split(Tensor t, ReadOnlySpan<int> sizes, int dim)
    {
        int d = t.NormDim(dim);
        long sum = 0;
        foreach (int s in sizes)
        {
            if (s < 0) throw new ArgumentException($"Split: negative size in {Tensor.ShapeString(sizes)}");
            sum += s;
        }
        if (sum != t.Shape[d]) throw new ShapeMismatchException($"Split: sizes {Tensor.ShapeString(sizes)} do not add up to dimension {d} of shape {Tensor.ShapeString(t.Shape)}");
        var parts = new Tensor[sizes.Length];
        int start = 0;
        for (int i = 0; i < sizes.Length; i++)
        {
            parts[i] = t.Slice(d, start, sizes[i]);
            start += sizes[i];
        }
        return parts;
    }

    /// <summary>
    /// dst[..., start:start+len, ...] += src along <paramref name="dim"/> of a contiguous <paramref name="dst"/>:
    /// the backward of a slice without a full-size temporary.
    /// </summary>
    public static void AddIntoSlice(Tensor dst, Tensor src, int dim, int start)
    {
        int d = dst.NormDim(dim);
        if (!dst.IsContiguous) throw new ArgumentException("AddIntoSlice: destination must be contiguous");
        bool ok = src.Rank == dst.Rank && start >= 0 && start + src.Shape[d] <= dst.Shape[d];
        for (int i = 0; ok && i < src.Rank; i++) ok = i == d || src.Shape[i] == dst.Shape[i];
        if (!ok) throw new ShapeMismatchException($"AddIntoSlice: {Tensor.ShapeString(src.Shape)} does not fit {Tensor.ShapeString(dst.Shape)} at {start} along {d}");
        using var sc = F32Contiguous(src);
        var (outer, n, inner) = SplitAt(dst.Shape, d);
        long block = (long)src.Shape[d] * inner;
        if (block == 0) return;
        float* ps = sc.Data, pd = dst.Data + (long)start * inner;
        for (long o = 0; o < outer; o++)
        {
            var dd = new Span<float>(pd + o * n * inner, (int)block);
            TensorPrimitives.Add(dd, new ReadOnlySpan<float>(ps + o * block, (int)block), dd);
        }
    }

    /// <summary>
    /// Inverted dropout: zeroes each element with probability <paramref name="p"/> and scales the rest by
    /// 1/(1-p). The mask (0 or 1/(1-p) per element, drawn in order from <paramref name="rng"/>) is returned for
    /// the backward.
    /// </summary>
    public static Tensor Dropout(Tensor x, float p, Rng rng, out Tensor mask)
    {
        if (!(p >= 0f && p <= 1f)) throw new ArgumentOutOfRangeException(nameof(p), $"Dropout: probability {p} is not in [0, 1]");
        mask = Tensor.Empty(x.Shape);
        var m = mask.Span;
        float keep = p >= 1f ? 0f : 1f / (1f - p);
        for (int i = 0; i < m.Length; i++) m[i] = rng.NextFloat() < p ? 0f : keep;
        return Mul(x, mask);
    }
}
