using Loom.Nn;
using Loom.Tensors;

namespace Loom.Nn.Tests;

/// <summary>Parameter names, shapes and initialisation of the spatial layers and attention, and their forward passes.</summary>
public class SpatialLayerTests
{
    private static Dictionary<string, int[]> Shapes(Module m) => m.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.Shape);

    [Fact]
    public void Conv2dMatchesPyTorchParametersAndInit()
    {
        var conv = new Conv2d(4, 6, 3, new Rng(1), stride: 2, padding: 1, groups: 2);
        var s = Shapes(conv);
        Assert.Equal([6, 2, 3, 3], s["weight"]);
        Assert.Equal([6], s["bias"]);
        float bound = 1f / MathF.Sqrt(2 * 3 * 3);
        Assert.All(conv.Weight.ToArray(), v => Assert.InRange(v, -bound, bound));
        using var y = conv.Forward(Tensor.RandNormal(new Rng(2), 0, 1, 2, 4, 9, 9));
        Assert.Equal([2, 6, 5, 5], y.Shape);
    }

    [Fact]
    public void ConvTranspose2dMatchesPyTorchParametersAndInit()
    {
        var conv = new ConvTranspose2d(4, 6, 4, new Rng(1), stride: 2, padding: 1, groups: 2);
        var s = Shapes(conv);
        Assert.Equal([4, 3, 4, 4], s["weight"]);
        Assert.Equal([6], s["bias"]);
        float bound = 1f / MathF.Sqrt(3 * 4 * 4);
        Assert.All(conv.Weight.ToArray(), v => Assert.InRange(v, -bound, bound));
        using var y = conv.Forward(Tensor.RandNormal(new Rng(2), 0, 1, 1, 4, 5, 5));
        Assert.Equal([1, 6, 10, 10], y.Shape);
    }

    [Fact]
    public void GroupNormStartsAsIdentityAffine()
    {
        var gn = new GroupNorm(2, 4);
        Assert.Equal([1f, 1f, 1f, 1f], gn.Weight!.ToArray());
        Assert.Equal([0f, 0f, 0f, 0f], gn.Bias!.ToArray());
        using var y = gn.Forward(Tensor.RandNormal(new Rng(2), 3, 2, 2, 4, 3, 3));
        var v = y.ToArray();
        // Each group of 2 channels x 9 pixels is normalised.
        for (int g = 0; g < 4; g++)
        {
            var grp = v.Skip(g * 18).Take(18).ToArray();
            Assert.InRange(grp.Average(), -1e-5, 1e-5);
        }
        Assert.Throws<ShapeMismatchException>(() => gn.Forward(Tensor.Zeros(1, 3, 2, 2)));
    }

    [Fact]
    public void MultiHeadAttentionHasLlamaNamesAndTrains()
    {
        var mha = new MultiHeadAttention(32, 4, 2, new Rng(7), ropeTheta: 10000f);
        var s = Shapes(mha);
        Assert.Equal([32, 32], s["q_proj.weight"]);
        Assert.Equal([16, 32], s["k_proj.weight"]);
        Assert.Equal([16, 32], s["v_proj.weight"]);
        Assert.Equal([32, 32], s["o_proj.weight"]);
        Assert.Equal(4, s.Count);

        using var x = Tensor.RandNormal(new Rng(3), 0, 1, 2, 70, 32);
        var y = mha.Forward(x);
        Assert.Equal([2, 70, 32], y.Shape);
        Autograd.Backward(F.Sum(F.Mul(y, y)));
        foreach (var (name, p) in mha.NamedParameters())
        {
            Assert.NotNull(p.Grad);
            Assert.True(p.Grad!.ToArray().Any(v => v != 0), $"{name} got a zero gradient");
        }
        mha.ZeroGrad();
    }

    [Fact]
    public void MultiHeadAttentionIsCausal()
    {
        // Changing the last token must not change earlier outputs.
        var mha = new MultiHeadAttention(16, 2, 1, new Rng(7));
        using var x = Tensor.RandNormal(new Rng(3), 0, 1, 1, 5, 16);
        using var x2 = x.Clone();
        x2[0, 4, 0] += 1f;
        using var _ = Autograd.NoGrad();
        using var a = mha.Forward(x);
        using var b = mha.Forward(x2);
        for (int t = 0; t < 4; t++)
            for (int c = 0; c < 16; c++) Assert.Equal(a[0, t, c], b[0, t, c]);
        Assert.NotEqual(a[0, 4, 0], b[0, 4, 0]);
    }
}

/// <summary>Incremental decoding through a <see cref="KvCache"/> reproduces the full causal forward pass.</summary>
public class KvCacheTests
{
    [Fact]
    public void DecodingWithCacheMatchesFullSequence()
    {
        var mha = new MultiHeadAttention(32, 4, 2, new Rng(11), ropeTheta: 10000f, ropeStyle: RopeStyle.Normal);
        using var x = Tensor.RandNormal(new Rng(5), 0, 1, 2, 75, 32);
        using var _ = Autograd.NoGrad();
        using var full = mha.Forward(x);
        using var cache = new KvCache(2, 2, 80, 8);
        // A 70-token prompt (two key tiles), then single tokens.
        using (var prompt = x.Slice(1, 0, 70))
        using (var y = mha.Forward(prompt, cache: cache))
        using (var expected = full.Slice(1, 0, 70))
            AssertNear(expected, y);
        for (int t = 70; t < 75; t++)
        {
            using var tok = x.Slice(1, t, 1);
            using var y = mha.Forward(tok, cache: cache);
            using var expected = full.Slice(1, t, 1);
            AssertNear(expected, y);
        }
        Assert.Equal(75, cache.Length);
    }

    private static void AssertNear(Tensor expected, Tensor actual)
    {
        var e = expected.ToArray();
        var a = actual.ToArray();
        for (int i = 0; i < e.Length; i++) Assert.True(MathF.Abs(e[i] - a[i]) < 1e-5f, $"element {i}: {a[i]} vs {e[i]}");
    }
}
