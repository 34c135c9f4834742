using Loom.Tensors;

namespace Loom.Nn;

/// <summary>Layer norm over the last dimension with PyTorch's nn.LayerNorm arguments; <c>weight</c> starts at 1, <c>bias</c> at 0.</summary>
public sealed class LayerNorm : Module
{
    public Tensor? Weight { get; }
    public Tensor? Bias { get; }
    public int NormalizedShape { get; }
    public float Eps { get; }

    public LayerNorm(int normalizedShape, float eps = 1e-5f, bool elementwiseAffine = true, bool bias = true)
    {
        if (normalizedShape <= 0) throw new ArgumentOutOfRangeException(nameof(normalizedShape), $"LayerNorm({normalizedShape}): size must be positive");
        NormalizedShape = normalizedShape;
        Eps = eps;
        if (elementwiseAffine)
        {
            Weight = RegisterParameter("weight", Init.NewParameter(normalizedShape));
            Init.Constant(Weight, 1f);
            if (bias) Bias = RegisterParameter("bias", Init.NewParameter(normalizedShape));
        }
    }

    /// <summary>x (..., C) -> (..., C).</summary>
    public Tensor Forward(Tensor x)
    {
        if (x.Rank == 0 || x.Shape[^1] != NormalizedShape)
            throw new ShapeMismatchException($"LayerNorm({NormalizedShape}): input of shape {Tensor.ShapeString(x.Shape)} does not end in {NormalizedShape}");
        return F.LayerNorm(x, Weight, Bias, Eps);
    }
}
