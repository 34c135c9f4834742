using Loom.Tensors;

namespace Loom.Nn;

/// <summary>
/// Keys and values of the tokens seen so far, for incremental (inference) decoding with
/// <see cref="MultiHeadAttention"/>: preallocated (B, Hkv, MaxLength, D) buffers that new tokens are copied into;
/// attention reads the filled prefix through a view, so a step copies only its own tokens.
/// </summary>
public sealed class KvCache : IDisposable
{
    public Tensor Keys { get; }   // (B, Hkv, MaxLength, D)
    public Tensor Values { get; } // (B, Hkv, MaxLength, D)
    public int MaxLength { get; }

    /// <summary>Number of cached positions (the position of the next token).</summary>
    public int Length { get; private set; }

    public KvCache(int batch, int kvHeads, int maxLength, int headDim)
    {
        MaxLength = maxLength;
        using (TensorScope.Suspend())
        {
            Keys = Tensor.Zeros(batch, kvHeads, maxLength, headDim);
            Values = Tensor.Zeros(batch, kvHeads, maxLength, headDim);
        }
    }

    /// <summary>Appends k and v (B, Hkv, T, D) and returns views of all cached keys and values (B, Hkv, Length, D), which the caller disposes.</summary>
    public (Tensor Keys, Tensor Values) Append(Tensor k, Tensor v)
    {
        int t = k.Shape[2];
        if (k.Rank != 4 || !Tensor.SameShape(k.Shape, v.Shape) || k.Shape[0] != Keys.Shape[0] || k.Shape[1] != Keys.Shape[1] || k.Shape[3] != Keys.Shape[3])
            throw new ShapeMismatchException($"KvCache {Tensor.ShapeString(Keys.Shape)}: cannot append k {Tensor.ShapeString(k.Shape)} and v {Tensor.ShapeString(v.Shape)}");
        if (Length + t > MaxLength)
            throw new InvalidOperationException($"KvCache is full: {Length} + {t} positions exceed its {MaxLength}");
        using (var dk = Keys.Slice(2, Length, t)) dk.CopyFrom(k);
        using (var dv = Values.Slice(2, Length, t)) dv.CopyFrom(v);
        Length += t;
        return (Keys.Slice(2, 0, Length), Values.Slice(2, 0, Length));
    }

    /// <summary>Forgets the cached positions (the buffers are kept).</summary>
    public void Reset() => Length = 0;

    /// <summary>Keeps only the first <paramref name="length"/> positions (reusing a shared prompt prefix).</summary>
    public void Truncate(int length) => Length = Math.Clamp(length, 0, Length);

    public void Dispose()
    {
        Keys.Dispose();
        Values.Dispose();
    }
}
