using Loom.Tensors;

namespace Loom.Nn;

public static partial class F
{
    /// <summary>
    /// Layer norm over the last dimension, x (..., C) with optional weight and bias (C). The forward saves the
    /// per-row mean and rstd; the backward computes dx, dweight and dbias from them in fused row kernels.
    /// </summary>
    public static Tensor LayerNorm(Tensor x, Tensor? weight, Tensor? bias, float eps = 1e-5f)
    {
        bool record = Autograd.ShouldRecord(Params(x, weight, bias));
        if (!record) return Ops.LayerNorm(x, weight, bias, eps);
        var y = Ops.LayerNorm(x, weight, bias, eps, out var mean, out var rstd);
        return Autograd.Record(y, new NormBackwardFn(x, weight, bias, mean, rstd));
    }

    /// <summary>RMS norm over the last dimension: x / sqrt(mean(x^2) + eps) * weight, x (..., C), weight (C) optional.</summary>
    public static Tensor RmsNorm(Tensor x, Tensor? weight, float eps = 1e-6f)
    {
        bool record = Autograd.ShouldRecord(Params(x, weight, null));
        if (!record) return Ops.RmsNorm(x, weight, eps);
        var y = Ops.RmsNorm(x, weight, eps, out var rstd);
        return Autograd.Record(y, new NormBackwardFn(x, weight, null, null, rstd));
    }

    private static Tensor[] Params(Tensor x, Tensor? w, Tensor? b)
    {
        if (w == null && b == null) return [x];
        if (w == null) return [x, b!];
        if (b == null) return [x, w];
        return [x, w, b];
    }

    /// <summary>Shared by layer norm and RMS norm (mean == null).</summary>
    private sealed class NormBackwardFn(Tensor x, Tensor? weight, Tensor? bias, Tensor? mean, Tensor rstd) : GradFn(Params(x, weight, bias))
    {
        public override string Name => mean == null ? "RmsNormBackward" : "LayerNormBackward";

        public override void Backward(Tensor output, Tensor g)
        {
            var (dx, dw, db) = Ops.NormBackward(x, weight, mean, rstd, g, x.RequiresGrad, weight?.RequiresGrad ?? false, bias?.RequiresGrad ?? false);
            if (dx != null) Autograd.Accumulate(x, dx, owned: true);
            if (dw != null) Autograd.Accumulate(weight!, dw, owned: true);
            if (db != null) Autograd.Accumulate(bias!, db, owned: true);
            // The statistics are only needed once: give them back to the pool now rather than at scope end.
            mean?.Dispose();
            rstd.Dispose();
        }
    }
}
