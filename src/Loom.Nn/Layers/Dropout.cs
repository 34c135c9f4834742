using Loom.Tensors;

namespace Loom.Nn;

/// <summary>Inverted dropout with probability p while <see cref="Module.Training"/>; the identity in eval mode.</summary>
public sealed class Dropout : Module
{
    private readonly Rng _rng;

    public float P { get; }

    /// <param name="p">Probability of zeroing an element (PyTorch's default 0.5).</param>
    /// <param name="rng">Source of the masks, so runs are reproducible and checkpointable.</param>
    public Dropout(Rng rng, float p = 0.5f)
    {
        if (!(p >= 0f && p <= 1f)) throw new ArgumentOutOfRangeException(nameof(p), $"Dropout: probability {p} is not in [0, 1]");
        P = p;
        _rng = rng;
    }

    public Tensor Forward(Tensor x) => F.Dropout(x, P, Training, _rng);
}
