namespace Loom.Tensors;

/// <summary>
/// A recorded operation on the autograd tape: its inputs and how to turn the output's gradient into theirs.
/// Implementations live in Loom.Nn; Backward accumulates into each input that requires a gradient.
/// </summary>
public abstract class GradFn
{
    protected GradFn(params Tensor[] inputs) => Inputs = inputs;

    public Tensor[] Inputs { get; }

    public virtual string Name => GetType().Name;

    /// <summary>Propagates <paramref name="gradOutput"/> (shaped like <paramref name="output"/>) to the inputs.</summary>
    public abstract void Backward(Tensor output, Tensor gradOutput);
}
