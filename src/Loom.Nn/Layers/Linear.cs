using Loom.Tensors;

namespace Loom.Nn;

/// <summary>y = x W^T + b, with W of shape (out, in) as in PyTorch. Input (..., in), output (..., out).</summary>
public sealed class Linear : Module
{
    public Tensor Weight { get; }
    public Tensor? Bias { get; }
    public int InFeatures { get; }
    public int OutFeatures { get; }

    public Linear(int inFeatures, int outFeatures, bool bias, Rng rng)
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Weight = RegisterParameter("weight", Init.NewParameter(outFeatures, inFeatures));
        if (bias) Bias = RegisterParameter("bias", Init.NewParameter(outFeatures));
        Init.LayerDefault(Weight, Bias, rng, inFeatures);
    }

    public Tensor Forward(Tensor x)
    {
        if (x.Shape[^1] != InFeatures)
            throw new ShapeMismatchException($"Linear({InFeatures}, {OutFeatures}): input of shape {Tensor.ShapeString(x.Shape)} has last dimension {x.Shape[^1]}, expected {InFeatures}");
        var flat = x.Rank == 1 ? F.Reshape(x, 1, InFeatures) : x;
        var y = F.MatMul(flat, Weight, false, true); // (..., out)
        if (Bias != null) y = F.Add(y, Bias);
        return x.Rank == 1 ? F.Reshape(y, OutFeatures) : y;
    }
}
