using Loom.Tensors.Kernels;

namespace Loom.Tensors;

/// <summary>How rotary embeddings pair up the head dimensions.</summary>
public enum RopeStyle
{
    /// <summary>Adjacent pairs (x[2i], x[2i+1]): the original RoFormer/Meta Llama layout, GGUF's "normal" rope type.</summary>
    Normal,

    /// <summary>Split halves (x[i], x[i + D/2]): GPT-NeoX and Hugging Face's rotate_half layout.</summary>
    Neox,
}

public static unsafe partial class Ops
{
    /// <summary>
    /// Rotary position embedding of x (B, T, H, D), the layout a projection reshapes into before the heads are
    /// transposed out; token t sits at position <paramref name="positionOffset"/> + t. D must be even.
    /// </summary>
    public static Tensor Rope(Tensor x, int positionOffset = 0, float theta = 10000f, RopeStyle style = RopeStyle.Neox) =>
        RopeCore(x, positionOffset, theta, style, inverse: false);

    /// <summary>Gradient of <see cref="Rope"/>: the inverse rotation of the output gradient.</summary>
    public static Tensor RopeBackward(Tensor gradOutput, int positionOffset = 0, float theta = 10000f, RopeStyle style = RopeStyle.Neox) =>
        RopeCore(gradOutput, positionOffset, theta, style, inverse: true);

    private static Tensor RopeCore(Tensor x, int offset, float theta, RopeStyle style, bool inverse)
    {
        if (x.Rank != 4 || x.Shape[3] % 2 != 0)
            throw new ShapeMismatchException($"Rope needs x of shape (B, T, H, D) with an even D, got {Tensor.ShapeString(x.Shape)}");
        if (offset < 0) throw new ArgumentOutOfRangeException(nameof(offset), $"position offset {offset} is negative");
        using var xc = F32Contiguous(x);
        var y = Tensor.Empty(x.Shape);
        Kernels.Rope.Apply(xc.Data, y.Data, x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3], offset, theta, style, inverse);
        return y;
    }
}
