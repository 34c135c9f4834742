using Loom.Tensors;

namespace Loom.Nn;

/// <summary>
/// RMS norm over the last dimension with PyTorch's nn.RMSNorm arguments: eps null means float32's machine
/// epsilon, as there; <c>weight</c> starts at 1.
/// </summary>
public sealed class RmsNorm : Module
{
    public Tensor? Weight { get; }
    public int NormalizedShape { get; }
    public float Eps { get; }

    public RmsNorm(int normalizedShape, float? eps = null, bool elementwiseAffine = true)
    {
        if (normalizedShape <= 0) throw new ArgumentOutOfRangeException(nameof(normalizedShape), $"RmsNorm({normalizedShape}): size must be positive");
        NormalizedShape = normalizedShape;
        Eps = eps ?? 1.1920929e-7f;
        if (elementwiseAffine)
        {
            Weight = RegisterParameter("weight", Init.NewParameter(normalizedShape));
            Init.Constant(Weight, 1f);
        }
    }

    /// <summary>x (..., C) -> (..., C).</summary>
    public Tensor Forward(Tensor x)
    {
        if (x.Rank == 0 || x.Shape[^1] != NormalizedShape)
            throw new ShapeMismatchException($"RmsNorm({NormalizedShape}): input of shape {Tensor.ShapeString(x.Shape)} does not end in {NormalizedShape}");
        return F.RmsNorm(x, Weight, Eps);
    }
}
