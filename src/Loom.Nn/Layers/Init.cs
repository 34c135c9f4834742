using Loom.Tensors;

namespace Loom.Nn;

/// <summary>Standard weight initialisers (PyTorch's conventions), all from a seeded <see cref="Rng"/>.</summary>
public static class Init
{
    /// <summary>U(-b, b) with b = gain * sqrt(3 / fan_in): PyTorch's default for Linear and Conv weights (gain 1/sqrt(3) there).</summary>
    public static void KaimingUniform(Tensor w, Rng rng, int fanIn, float gain = 1f)
    {
        float bound = gain * MathF.Sqrt(3f / Math.Max(fanIn, 1));
        rng.FillUniform(w.Span, -bound, bound);
    }

    /// <summary>U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)).</summary>
    public static void XavierUniform(Tensor w, Rng rng, int fanIn, int fanOut, float gain = 1f)
    {
        float bound = gain * MathF.Sqrt(6f / Math.Max(fanIn + fanOut, 1));
        rng.FillUniform(w.Span, -bound, bound);
    }

    public static void Normal(Tensor w, Rng rng, float mean = 0f, float std = 1f) => rng.FillNormal(w.Span, mean, std);

    public static void Uniform(Tensor w, Rng rng, float low, float high) => rng.FillUniform(w.Span, low, high);

    public static void Constant(Tensor w, float value) => w.Span.Fill(value);

    /// <summary>
    /// PyTorch's reset_parameters for Linear and Conv layers: weight kaiming_uniform(a=sqrt(5)), which is
    /// U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the bias (if any) from the same range.
    /// </summary>
    public static void LayerDefault(Tensor weight, Tensor? bias, Rng rng, int fanIn)
    {
        KaimingUniform(weight, rng, fanIn, 1f / MathF.Sqrt(3f));
        if (bias == null) return;
        float b = 1f / MathF.Sqrt(Math.Max(fanIn, 1));
        Uniform(bias, rng, -b, b);
    }

    /// <summary>Creates a parameter-owned tensor outside any <see cref="TensorScope"/>.</summary>
    public static Tensor NewParameter(params int[] shape)
    {
        using (TensorScope.Suspend()) return Tensor.Zeros(shape);
    }
}
