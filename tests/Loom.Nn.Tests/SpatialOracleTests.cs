using Loom.Nn;
using Loom.Tensors;
using Loom.Testing;
using Xunit.Abstractions;

namespace Loom.Nn.Tests;

/// <summary>
/// Forward values and gradients of sum(y * w) against PyTorch 1.13 (float64 references), from
/// tests/fixtures/ops_spatial.safetensors written by tools/fixtures/gen_ops_spatial.py; case names and
/// hyperparameters match that script.
/// </summary>
public class SpatialOracleTests(ITestOutputHelper output)
{
    private static readonly Lazy<Dictionary<string, Tensor>> Fx = new(() => Fixtures.Load("ops_spatial.safetensors"));

    private const float Rtol = 1e-4f;

    private void Case(string name, string[] inputs, Func<Tensor[], Tensor> f)
    {
        var fx = Fx.Value;
        var xs = inputs.Select(n => { var t = fx[$"{name}.{n}"].Clone(); t.RequiresGrad = true; return t; }).ToArray();
        var y = f(xs);
        Report(name, "y", fx[$"{name}.y"], y);
        AssertClose(fx[$"{name}.y"], y, $"{name} output");
        Autograd.Backward(F.Sum(F.Mul(y, fx[$"{name}.w"])));
        for (int i = 0; i < inputs.Length; i++)
        {
            var expected = fx[$"{name}.g_{inputs[i]}"];
            Assert.NotNull(xs[i].Grad);
            Report(name, "d" + inputs[i], expected, xs[i].Grad!);
            AssertClose(expected, xs[i].Grad!, $"{name} gradient of {inputs[i]}");
        }
    }

    /// <summary>
    /// |a - e| &lt;= 1e-4 * max(|e|, 1% of max |e|). Fixtures.AssertClose floors at 0.1% of the largest value,
    /// i.e. about one float32 ulp of it, which elements that are exactly zero in float64 by cancellation (dq of the
    /// first causal row, whose softmax is exactly 1) cannot meet after float32 reductions.
    /// </summary>
    private static void AssertClose(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        var e = expected.ToArray();
        var a = actual.ToArray();
        float floor = e.Length == 0 ? 0 : e.Max(MathF.Abs) * 1e-2f;
        for (int i = 0; i < e.Length; i++)
        {
            float tol = Rtol * MathF.Max(MathF.Abs(e[i]), floor) + 1e-30f;
            Assert.True(MathF.Abs(e[i] - a[i]) <= tol, $"{what}: element {i}: got {a[i]}, expected {e[i]} (tolerance {tol})");
        }
    }

    /// <summary>Logs max |error| / max |expected|, the figure quoted for the ops.</summary>
    private void Report(string name, string what, Tensor expected, Tensor actual)
    {
        var e = expected.ToArray();
        var a = actual.ToArray();
        double maxErr = 0, maxAbs = 0;
        for (int i = 0; i < e.Length; i++)
        {
            maxErr = Math.Max(maxErr, Math.Abs(e[i] - a[i]));
            maxAbs = Math.Max(maxAbs, Math.Abs(e[i]));
        }
        output.WriteLine($"{name} {what}: max abs error {maxErr:E2}, relative to max |ref| {maxErr / Math.Max(maxAbs, 1e-30):E2}");
    }

    [Fact]
    public void RopeNeox() => Case("rope_neox", ["x"], x => F.Rope(x[0], 5, 10000f, RopeStyle.Neox));

    [Fact]
    public void RopeNormal() => Case("rope_normal", ["x"], x => F.Rope(x[0], 3, 500000f, RopeStyle.Normal));

    [Theory]
    [InlineData("attn_mha_causal", true)]
    [InlineData("attn_gqa_causal", true)]
    [InlineData("attn_gqa_kvcache", true)]
    [InlineData("attn_gqa_full", false)]
    [InlineData("attn_decode", true)]
    public void Attention(string name, bool causal) => Case(name, ["q", "k", "v"], x => F.Attention(x[0], x[1], x[2], causal));

    [Fact]
    public void Conv2dStridePaddingGroupsBias() =>
        Case("conv_s2p1g2", ["x", "wt", "b"], x => F.Conv2d(x[0], x[1], x[2], stride: 2, padding: 1, groups: 2));

    [Fact]
    public void Conv2dRectangular() => Case("conv_rect", ["x", "wt"], x => F.Conv2d(x[0], x[1], null, (1, 2), (0, 1)));

    [Fact]
    public void ConvTranspose2dStridePaddingOutputPaddingGroups() =>
        Case("convt_s2p1op1g2", ["x", "wt", "b"], x => F.ConvTranspose2d(x[0], x[1], x[2], stride: 2, padding: 1, outputPadding: 1, groups: 2));

    [Fact]
    public void ConvTranspose2dRectangular() => Case("convt_s1", ["x", "wt"], x => F.ConvTranspose2d(x[0], x[1], null));

    [Fact]
    public void GroupNormAffine() => Case("gn", ["x", "wt", "b"], x => F.GroupNorm(x[0], 3, x[1], x[2], 1e-5f));

    [Fact]
    public void GroupNormNoAffine() => Case("gn_noaffine", ["x"], x => F.GroupNorm(x[0], 2, eps: 1e-6f));

    [Fact]
    public void UpsampleNearest() => Case("upsample2", ["x"], x => F.UpsampleNearest(x[0], 2));

    [Fact]
    public void UpsampleNearestAnisotropic() => Case("upsample_3x2", ["x"], x => F.UpsampleNearest(x[0], 3, 2));

    [Fact]
    public void AvgPool() => Case("avgpool_k2", ["x"], x => F.AvgPool2d(x[0], 2));

    [Fact]
    public void AvgPoolStridePadding() => Case("avgpool_k3s2p1", ["x"], x => F.AvgPool2d(x[0], 3, 2, 1));
}
