using Loom.Nn;
using Loom.Tensors;

namespace Loom.Nn.Tests;

/// <summary>Compares autograd gradients with central finite differences (in float64 accumulation of float32 ops).</summary>
public static class GradCheck
{
    /// <summary>
    /// Checks d(sum(f(inputs) * w))/d(input) for a fixed random weight w, so every output element matters.
    /// </summary>
    public static void Check(Func<Tensor[], Tensor> f, Tensor[] inputs, float eps = 1e-2f, float tol = 2e-2f, int seed = 0)
    {
        foreach (var t in inputs) t.RequiresGrad = true;
        Tensor y = f(inputs);
        var rng = new Rng((ulong)seed + 99);
        using var w = Tensor.RandUniform(rng, -1, 1, y.Shape);
        var loss = F.Sum(F.Mul(y, w));
        Autograd.Backward(loss);
        foreach (var x in inputs)
        {
            Assert.NotNull(x.Grad);
            var analytic = x.Grad!.ToArray();
            var data = x.Span;
            for (int i = 0; i < data.Length; i++)
            {
                float orig = data[i];
                data[i] = orig + eps;
                double up = Eval(f, inputs, w);
                data[i] = orig - eps;
                double down = Eval(f, inputs, w);
                data[i] = orig;
                double numeric = (up - down) / (2 * eps);
                double err = Math.Abs(numeric - analytic[i]);
                Assert.True(err <= tol * Math.Max(1.0, Math.Abs(numeric)),
                    $"gradient of input {Array.IndexOf(inputs, x)} element {i}: autograd {analytic[i]}, numeric {numeric}");
            }
        }
        foreach (var t in inputs) { t.Grad?.Dispose(); t.Grad = null; }
    }

    private static double Eval(Func<Tensor[], Tensor> f, Tensor[] inputs, Tensor w)
    {
        using var _ = Autograd.NoGrad();
        using var y = f(inputs);
        var a = y.ToArray();
        var b = w.ToArray();
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += (double)a[i] * b[i];
        return s;
    }
}
