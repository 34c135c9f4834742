using Loom.Tensors;

namespace Loom.Tensors.Tests;

/// <summary>The vector kernels against scalar double-precision references at every tail length and on the parallel path.</summary>
public class CoreKernelTests
{
    private static double Phi(double x) => 0.5 * Erfc(-x / Math.Sqrt(2));

    // erfc in double: Taylor series of erf below 2, the continued fraction (evaluated bottom-up) above.
    private static double Erfc(double x)
    {
        if (x < 0) return 2 - Erfc(-x);
        if (x < 2)
        {
            double sum = 0, term = x, x2 = x * x;
            for (int n = 0; n < 100; n++)
            {
                sum += term / (2 * n + 1);
                term *= -x2 / (n + 1);
            }
            return 1 - 2 / Math.Sqrt(Math.PI) * sum;
        }
        double k = x;
        for (int n = 200; n >= 1; n--) k = x + n / 2.0 / k;
        return Math.Exp(-x * x) / (Math.Sqrt(Math.PI) * k);
    }

    private static readonly Dictionary<UnaryOp, Func<double, double>> Reference = new()
    {
        [UnaryOp.Neg] = x => -x,
        [UnaryOp.Exp] = Math.Exp,
        [UnaryOp.Square] = x => x * x,
        [UnaryOp.Tanh] = Math.Tanh,
        [UnaryOp.Sigmoid] = x => 1 / (1 + Math.Exp(-x)),
        [UnaryOp.Relu] = x => Math.Max(x, 0),
        [UnaryOp.Gelu] = x => x * Phi(x),
        [UnaryOp.GeluTanh] = x => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))),
        [UnaryOp.Silu] = x => x / (1 + Math.Exp(-x)),
    };

    public static TheoryData<UnaryOp> Ops_ => new(Reference.Keys);

    [Theory]
    [MemberData(nameof(Ops_))]
    public void UnaryMatchesScalarReferenceAtEveryTailLength(UnaryOp op)
    {
        var rng = new Rng(11);
        for (int n = 1; n <= 40; n++)
        {
            using var x = Tensor.RandUniform(rng, -6, 6, n);
            using var y = Ops.Unary(x, op);
            var xs = x.ToArray();
            var ys = y.ToArray();
            for (int i = 0; i < n; i++)
            {
                double e = Reference[op](xs[i]);
                Assert.True(Math.Abs(ys[i] - e) <= 2e-6 * Math.Max(Math.Abs(e), 1e-3),
                    $"{op}({xs[i]}) at length {n}: {ys[i]} vs {e}");
            }
        }
    }

    [Fact]
    public void GeluLeftTailKeepsRelativePrecision()
    {
        using var x = Tensor.FromArray([-5f, -7f, -9f], 3);
        using var y = Ops.Gelu(x);
        var ys = y.ToArray();
        for (int i = 0; i < 3; i++)
        {
            double e = x.ToArray()[i] * Phi(x.ToArray()[i]);
            Assert.True(Math.Abs(ys[i] - e) <= 1e-5 * Math.Abs(e), $"gelu({x.ToArray()[i]}) = {ys[i]}, expected {e}");
        }
    }

    [Fact]
    public void ParallelAndSerialPathsAgree()
    {
        // 1 << 16 elements runs on the pool; the same rows one at a time run serially.
        using var x = Tensor.RandNormal(new Rng(3), 0, 2, 256, 256);
        using var sm = Ops.Softmax(x);
        using var ln = Ops.LayerNorm(x, null, null);
        using var ge = Ops.Gelu(x);
        using var sum0 = Ops.Sum(x, 0);
        using var row = x.Slice(0, 5, 1);
        using var smRow = Ops.Softmax(row);
        using var lnRow = Ops.LayerNorm(row, null, null);
        using var geRow = Ops.Gelu(row);
        Assert.Equal(smRow.ToArray(), sm.ToArray().AsSpan(5 * 256, 256).ToArray());
        Assert.Equal(lnRow.ToArray(), ln.ToArray().AsSpan(5 * 256, 256).ToArray());
        Assert.Equal(geRow.ToArray(), ge.ToArray().AsSpan(5 * 256, 256).ToArray());
        var xs = x.ToArray();
        var s = sum0.ToArray();
        for (int j = 0; j < 256; j += 17)
        {
            double e = 0;
            for (int i = 0; i < 256; i++) e += xs[i * 256 + j];
            Assert.True(Math.Abs(s[j] - e) < 1e-4, $"column {j}: {s[j]} vs {e}");
        }
    }

    [Fact]
    public void PowFollowsPyTorchSignRules()
    {
        using var x = Tensor.FromArray([-2f, 0f, 3f], 3);
        Assert.Equal([-8f, 0f, 27f], Round(Ops.Pow(x, 3f)));
        Assert.Equal([4f, 0f, 9f], Round(Ops.Pow(x, 2f)));
        Assert.Equal([1f, 1f, 1f], Ops.Pow(x, 0f).ToArray());
        using var frac = Ops.Pow(x, 0.5f);
        Assert.True(float.IsNaN(frac[0]));
        Assert.Equal(MathF.Sqrt(3f), frac[2], 5);
        using var inv = Ops.Pow(x, -1f);
        Assert.True(float.IsPositiveInfinity(inv[1]));
    }

    private static float[] Round(Tensor t)
    {
        using (t) return t.ToArray().Select(v => MathF.Round(v, 3)).ToArray();
    }
}
