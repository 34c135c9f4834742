using Loom.Tensors;

namespace Loom.Tensors.Tests;

public class TensorViewTests
{
    private static Tensor Arange(params int[] shape)
    {
        var t = Tensor.Empty(shape);
        var s = t.Span;
        for (int i = 0; i < s.Length; i++) s[i] = i;
        return t;
    }

    [Fact]
    public void TransposeIsAViewAndContiguousCopiesInLogicalOrder()
    {
        using var a = Arange(2, 3);
        using var t = a.Transpose(0, 1);
        Assert.Same(a.Storage, t.Storage);
        Assert.False(t.IsContiguous);
        Assert.Equal([0f, 3, 1, 4, 2, 5], t.ToArray());
        using var c = t.Contiguous();
        Assert.True(c.IsContiguous);
        Assert.Equal([0f, 3, 1, 4, 2, 5], c.ToArray());
    }

    [Fact]
    public void ReshapeInfersOneDimensionAndRejectsBadShapes()
    {
        using var a = Arange(2, 3, 4);
        using var r = a.Reshape(-1, 4);
        Assert.Equal([6, 4], r.Shape);
        var e = Assert.Throws<ShapeMismatchException>(() => a.Reshape(5, -1));
        Assert.Contains("(2, 3, 4)", e.Message);
    }

    [Fact]
    public void SliceSelectPermuteAndBroadcast()
    {
        using var a = Arange(2, 3, 4);
        using var s = a.Slice(2, 1, 2);
        Assert.Equal([2, 3, 2], s.Shape);
        Assert.Equal(a[1, 2, 1], s[1, 2, 0]);
        using var sel = a.Select(1, 2);
        Assert.Equal([2, 4], sel.Shape);
        Assert.Equal(a[1, 2, 3], sel[1, 3]);
        using var p = a.Permute(2, 0, 1);
        Assert.Equal([4, 2, 3], p.Shape);
        Assert.Equal(a[1, 2, 3], p[3, 1, 2]);
        using var row = Arange(1, 4);
        using var b = row.BroadcastTo(3, 4);
        Assert.Equal(0, b.Strides[0]);
        Assert.Equal(row[0, 3], b[2, 3]);
    }

    [Fact]
    public void BroadcastShapeNamesBothShapesOnMismatch()
    {
        var e = Assert.Throws<ShapeMismatchException>(() => Tensor.BroadcastShape([2, 3], [4, 3]));
        Assert.Contains("(2, 3)", e.Message);
        Assert.Contains("(4, 3)", e.Message);
        Assert.Equal([5, 2, 3], Tensor.BroadcastShape([5, 1, 3], [2, 1]));
    }

    [Fact]
    public void HalfAndBFloat16RoundTrip()
    {
        var rng = new Rng(1);
        using var a = Tensor.RandNormal(rng, 0, 3, 1000);
        using var h = a.ToDType(DType.F16);
        using var b = a.ToDType(DType.BF16);
        var fa = a.ToArray();
        var fh = h.ToArray();
        var fb = b.ToArray();
        for (int i = 0; i < fa.Length; i++)
        {
            Assert.Equal((float)(Half)fa[i], fh[i]);
            Assert.True(MathF.Abs(fb[i] - fa[i]) <= MathF.Abs(fa[i]) * (1f / 256) + 1e-30f, $"bf16 {fa[i]} -> {fb[i]}");
        }
        // Round to nearest even at the bf16 boundary, NaN stays NaN.
        Assert.Equal(0x3f80, HalfConvert.FloatToBF16(BitConverter.UInt32BitsToSingle(0x3f808000)));
        Assert.Equal(0x3f82, HalfConvert.FloatToBF16(BitConverter.UInt32BitsToSingle(0x3f818000)));
        Assert.True(float.IsNaN(HalfConvert.BF16ToFloat(HalfConvert.FloatToBF16(float.NaN))));
    }

    [Fact]
    public void RngIsReproducibleAndRestorable()
    {
        var a = new Rng(42);
        a.NextNormal();
        var state = a.GetState();
        var x = new[] { a.NextNormal(), a.NextNormal(), a.NextDouble() };
        var b = new Rng(7);
        b.SetState(state);
        Assert.Equal(x, new[] { b.NextNormal(), b.NextNormal(), b.NextDouble() });
    }

    [Fact]
    public void ScopeReleasesTensorsExceptKept()
    {
        Tensor kept, dropped;
        using (var scope = new TensorScope())
        {
            dropped = Tensor.Zeros(4);
            kept = scope.Keep(Tensor.Zeros(4));
        }
        Assert.True(dropped.IsDisposed);
        Assert.False(kept.IsDisposed);
        kept.Dispose();
    }
}
