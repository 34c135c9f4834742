using Loom.Nn;
using Loom.Tensors;

namespace Loom.Nn.Tests;

/// <summary>Finite-difference checks of the spatial and attention ops on small shapes, plus their shape errors.</summary>
public class SpatialGradTests
{
    private static Tensor R(int seed, params int[] shape) => Tensor.RandNormal(new Rng((ulong)seed), 0, 1, shape);

    private static Tensor R(int seed, float scale, params int[] shape) => Tensor.RandNormal(new Rng((ulong)seed), 0, scale, shape);

    [Fact]
    public void RopeBothStyles()
    {
        GradCheck.Check(x => F.Rope(x[0], 3, 10000f, RopeStyle.Neox), [R(1, 2, 3, 2, 6)]);
        GradCheck.Check(x => F.Rope(x[0], 0, 100f, RopeStyle.Normal), [R(2, 1, 4, 3, 4)]);
    }

    [Theory]
    [InlineData(true, 2, 1, 3, 5)]
    [InlineData(true, 2, 2, 4, 4)]
    [InlineData(false, 4, 2, 3, 6)]
    public void Attention(bool causal, int hq, int hkv, int t, int s)
    {
        GradCheck.Check(x => F.Attention(x[0], x[1], x[2], causal), [R(1, 1, hq, t, 4), R(2, 1, hkv, s, 4), R(3, 1, hkv, s, 4)]);
    }

    [Fact]
    public void Conv2dWithGroupsStridePadding()
    {
        GradCheck.Check(x => F.Conv2d(x[0], x[1], x[2], stride: 2, padding: 1, groups: 2), [R(1, 1, 4, 5, 5), R(2, 0.5f, 4, 2, 3, 3), R(3, 4)]);
        GradCheck.Check(x => F.Conv2d(x[0], x[1], null, (1, 2), (1, 0)), [R(4, 2, 2, 4, 5), R(5, 0.5f, 3, 2, 2, 3)]);
    }

    [Fact]
    public void ConvTranspose2dWithOutputPadding()
    {
        GradCheck.Check(x => F.ConvTranspose2d(x[0], x[1], x[2], stride: 2, padding: 1, outputPadding: 1, groups: 2), [R(1, 1, 4, 3, 3), R(2, 0.5f, 4, 1, 3, 3), R(3, 2)]);
        GradCheck.Check(x => F.ConvTranspose2d(x[0], x[1], null, (2, 1), (0, 1), (1, 0)), [R(4, 1, 2, 3, 4), R(5, 0.5f, 2, 3, 2, 3)]);
    }

    [Fact]
    public void GroupNormAffineAndPlain()
    {
        GradCheck.Check(x => F.GroupNorm(x[0], 2, x[1], x[2]), [R(1, 2, 4, 3, 2), R(2, 4), R(3, 4)], eps: 3e-3f);
        GradCheck.Check(x => F.GroupNorm(x[0], 3), [R(4, 1, 6, 5)], eps: 3e-3f);
    }

    [Fact]
    public void UpsampleAndAvgPool()
    {
        GradCheck.Check(x => F.UpsampleNearest(x[0], 2, 3), [R(1, 1, 2, 3, 2)]);
        GradCheck.Check(x => F.AvgPool2d(x[0], 2), [R(2, 1, 2, 4, 5)]);
        GradCheck.Check(x => F.AvgPool2d(x[0], 3, 2, 1), [R(3, 1, 2, 5, 6)]);
    }

    [Fact]
    public void RopeBackwardUndoesRope()
    {
        using var x = R(1, 2, 70, 3, 16);
        using var y = Ops.Rope(x, 1000, 10000f, RopeStyle.Normal);
        using var back = Ops.RopeBackward(y, 1000, 10000f, RopeStyle.Normal);
        var a = x.ToArray();
        var b = back.ToArray();
        for (int i = 0; i < a.Length; i++) Assert.True(MathF.Abs(a[i] - b[i]) < 1e-5f, $"element {i}: {b[i]} vs {a[i]}");
    }

    [Fact]
    public void AttentionReadsStridedHeadsLikeContiguous()
    {
        // q from a (B, T, H, D) projection viewed as (B, H, T, D) without a copy.
        using var qbthd = R(1, 2, 90, 4, 16);
        using var qView = qbthd.Transpose(1, 2);
        using var q = qView.Contiguous();
        Assert.False(qView.IsContiguous);
        using var k = R(2, 2, 2, 90, 16);
        using var v = R(3, 2, 2, 90, 16);
        using var a = Ops.Attention(qView, k, v);
        using var b = Ops.Attention(q, k, v);
        Assert.Equal(b.ToArray(), a.ToArray());
    }

    [Fact]
    public void CachedDecodingMatchesFullCausalAttention()
    {
        // The last 3 queries against all 150 keys must equal the last 3 rows of full causal attention.
        using var q = R(1, 1, 4, 150, 32);
        using var k = R(2, 1, 2, 150, 32);
        using var v = R(3, 1, 2, 150, 32);
        using var full = Ops.Attention(q, k, v);
        using var qLast = q.Slice(2, 147, 3);
        using var part = Ops.Attention(qLast, k, v);
        using var fullLast = full.Slice(2, 147, 3);
        var a = fullLast.ToArray();
        var b = part.ToArray();
        for (int i = 0; i < a.Length; i++) Assert.True(MathF.Abs(a[i] - b[i]) < 1e-5f, $"element {i}: {b[i]} vs {a[i]}");
    }

    [Fact]
    public void BadShapesNameTheShapes()
    {
        var e = Assert.Throws<ShapeMismatchException>(() => Ops.Attention(R(1, 1, 3, 4, 8), R(2, 1, 2, 4, 8), R(3, 1, 2, 4, 8)));
        Assert.Contains("(1, 3, 4, 8)", e.Message);
        Assert.Contains("(1, 2, 4, 8)", e.Message);
        e = Assert.Throws<ShapeMismatchException>(() => Ops.Attention(R(1, 1, 2, 5, 8), R(2, 1, 2, 4, 8), R(3, 1, 2, 4, 8), causal: true));
        Assert.Contains("(1, 2, 5, 8)", e.Message);
        e = Assert.Throws<ShapeMismatchException>(() => Ops.Conv2d(R(1, 1, 3, 5, 5), R(2, 4, 2, 3, 3), null));
        Assert.Contains("(1, 3, 5, 5)", e.Message);
        Assert.Contains("(4, 2, 3, 3)", e.Message);
        e = Assert.Throws<ShapeMismatchException>(() => Ops.ConvTranspose2d(R(1, 1, 3, 5, 5), R(2, 4, 2, 3, 3), null));
        Assert.Contains("(4, 2, 3, 3)", e.Message);
        e = Assert.Throws<ShapeMismatchException>(() => Ops.GroupNorm(R(1, 2, 6, 3), 4));
        Assert.Contains("(2, 6, 3)", e.Message);
        e = Assert.Throws<ShapeMismatchException>(() => Ops.Rope(R(1, 1, 2, 3, 5)));
        Assert.Contains("(1, 2, 3, 5)", e.Message);
    }
}
