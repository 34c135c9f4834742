using Loom.Tensors;

namespace Loom.Nn;

/// <summary>PyTorch-compatible GroupNorm: weight (C) = 1 and bias (C) = 0 when affine; input (N, C, ...).</summary>
public sealed class GroupNorm : Module
{
    public Tensor? Weight { get; }
    public Tensor? Bias { get; }
    public int NumGroups { get; }
    public int NumChannels { get; }
    public float Eps { get; }

    public GroupNorm(int numGroups, int numChannels, float eps = 1e-5f, bool affine = true)
    {
        if (numGroups < 1 || numChannels % numGroups != 0)
            throw new ArgumentException($"GroupNorm: {numGroups} group(s) must divide {numChannels} channels");
        NumGroups = numGroups;
        NumChannels = numChannels;
        Eps = eps;
        if (affine)
        {
            Weight = RegisterParameter("weight", Init.NewParameter(numChannels));
            Init.Constant(Weight, 1f);
            Bias = RegisterParameter("bias", Init.NewParameter(numChannels));
        }
    }

    public Tensor Forward(Tensor x)
    {
        if (x.Rank < 2 || x.Shape[1] != NumChannels)
            throw new ShapeMismatchException($"GroupNorm({NumGroups}, {NumChannels}): input of shape {Tensor.ShapeString(x.Shape)} does not have {NumChannels} channels");
        return F.GroupNorm(x, NumGroups, Weight, Bias, Eps);
    }
}
