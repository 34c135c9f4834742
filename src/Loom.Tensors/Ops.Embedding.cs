using System.Numerics.Tensors;

namespace Loom.Tensors;

public static unsafe partial class Ops
{
    /// <summary>
    /// Converts an F32 tensor holding integer values (token ids, class targets) to int[]; a non-integer value
    /// is an error naming its position.
    /// </summary>
    public static int[] ToIndices(Tensor ids)
    {
        var v = ids.ToArray();
        var r = new int[v.Length];
        for (int i = 0; i < v.Length; i++)
        {
            float f = v[i];
            if (f != MathF.Round(f) || f > int.MaxValue || f < int.MinValue)
                throw new ArgumentException($"index tensor of shape {Tensor.ShapeString(ids.Shape)} holds non-integer value {f} at position {i}");
            r[i] = (int)f;
        }
        return r;
    }

    private static void CheckIds(ReadOnlySpan<int> ids, int vocab, string op)
    {
        for (int i = 0; i < ids.Length; i++)
            if ((uint)ids[i] >= (uint)vocab)
                throw new ArgumentOutOfRangeException(nameof(ids), $"{op}: id {ids[i]} at position {i} is out of range for a vocabulary of size {vocab}");
    }

    /// <summary>Gathers rows of <paramref name="weight"/> (V, C): result (idShape..., C).</summary>
    public static Tensor Embedding(Tensor weight, ReadOnlySpan<int> ids, ReadOnlySpan<int> idShape)
    {
        if (weight.Rank != 2) throw new ShapeMismatchException($"Embedding: weight must be (vocab, dim), got shape {Tensor.ShapeString(weight.Shape)}");
        if (Tensor.CheckShape(idShape) != ids.Length) throw new ShapeMismatchException($"Embedding: {ids.Length} ids do not fill shape {Tensor.ShapeString(idShape)}");
        int vocab = weight.Shape[0], c = weight.Shape[1];
        CheckIds(ids, vocab, "Embedding");
        var outShape = new int[idShape.Length + 1];
        idShape.CopyTo(outShape);
        outShape[^1] = c;
        using var wc = F32Contiguous(weight);
        var y = Tensor.Empty(outShape);
        fixed (int* pid = ids)
        {
            var body = new GatherBody { W = wc.Data, Y = y.Data, Ids = pid, C = c };
            ComputePool.For(ids.Length, body, (long)ids.Length * c < ParallelThreshold ? 1 : 0);
        }
        return y;
    }

    private struct GatherBody : IRangeBody
    {
        public float* W, Y;
        public int* Ids;
        public int C;

        public readonly void Run(int start, int end)
        {
            long bytes = (long)C * sizeof(float);
            for (int i = start; i < end; i++) Buffer.MemoryCopy(W + (long)Ids[i] * C, Y + (long)i * C, bytes, bytes);
        }
    }

    /// <summary>
    /// Scatter-add backward of <see cref="Embedding"/>: dW (V, C) with g's rows added at their ids (repeats add up).
    /// Threads split the columns, so repeated ids never race.
    /// </summary>
    public static Tensor EmbeddingBackward(Tensor g, ReadOnlySpan<int> ids, int vocab)
    {
        int c = g.Shape[^1];
        if (g.Length != (long)ids.Length * c) throw new ShapeMismatchException($"Embedding backward: gradient of shape {Tensor.ShapeString(g.Shape)} does not match {ids.Length} ids");
        CheckIds(ids, vocab, "Embedding backward");
        using var gc = F32Contiguous(g);
        var dw = Tensor.Zeros(vocab, c);
        fixed (int* pid = ids)
        {
            var body = new ScatterBody { G = gc.Data, D = dw.Data, Ids = pid, Count = ids.Length, C = c };
            int blocks = (c + 63) / 64;
            ComputePool.For(blocks, body, (long)ids.Length * c < ParallelThreshold ? 1 : 0);
        }
        return dw;
    }

    private struct ScatterBody : IRangeBody
    {
        public float* G, D;
        public int* Ids;
        public int Count, C;

        public readonly void Run(int start, int end)
        {
            int c0 = start * 64, c1 = Math.Min(end * 64, C), len = c1 - c0;
            for (int i = 0; i < Count; i++)
            {
                var dst = new Span<float>(D + (long)Ids[i] * C + c0, len);
                TensorPrimitives.Add(dst, new ReadOnlySpan<float>(G + (long)i * C + c0, len), dst);
            }
        }
    }
}
