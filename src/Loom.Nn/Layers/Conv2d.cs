using Loom.Tensors;

namespace Loom.Nn;

/// <summary>PyTorch-compatible Conv2d: weight (out, in/groups, KH, KW), bias (out); input (N, in, H, W).</summary>
public sealed class Conv2d : Module
{
    public Tensor Weight { get; }
    public Tensor? Bias { get; }
    public int InChannels { get; }
    public int OutChannels { get; }
    public (int H, int W) KernelSize { get; }
    public (int H, int W) Stride { get; }
    public (int H, int W) Padding { get; }
    public int Groups { get; }

    public Conv2d(int inChannels, int outChannels, int kernelSize, Rng rng, int stride = 1, int padding = 0, int groups = 1, bool bias = true)
        : this(inChannels, outChannels, (kernelSize, kernelSize), rng, (stride, stride), (padding, padding), groups, bias) { }

    public Conv2d(int inChannels, int outChannels, (int H, int W) kernelSize, Rng rng, (int H, int W) stride, (int H, int W) padding, int groups = 1, bool bias = true)
    {
        if (groups < 1 || inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException($"Conv2d: {groups} group(s) must divide in_channels {inChannels} and out_channels {outChannels}");
        InChannels = inChannels;
        OutChannels = outChannels;
        KernelSize = kernelSize;
        Stride = stride;
        Padding = padding;
        Groups = groups;
        Weight = RegisterParameter("weight", Init.NewParameter(outChannels, inChannels / groups, kernelSize.H, kernelSize.W));
        int fanIn = inChannels / groups * kernelSize.H * kernelSize.W;
        if (bias) Bias = RegisterParameter("bias", Init.NewParameter(outChannels));
        Init.LayerDefault(Weight, Bias, rng, fanIn);
    }

    public Tensor Forward(Tensor x) => F.Conv2d(x, Weight, Bias, Stride, Padding, Groups);
}
