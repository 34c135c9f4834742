using Loom.Tensors;

namespace Loom.Nn.Tests;

/// <summary>Finite-difference checks of every differentiable op in the core set, including non-contiguous inputs.</summary>
public class OpsCoreGradTests
{
    private static Tensor R(int seed, params int[] shape) => Tensor.RandNormal(new Rng((ulong)seed), 0, 1, shape);

    /// <summary>Normal values pushed at least <paramref name="gap"/> away from zero (for kinks and poles).</summary>
    private static Tensor AwayFromZero(int seed, float gap, params int[] shape)
    {
        var t = R(seed, shape);
        var s = t.Span;
        for (int i = 0; i < s.Length; i++) s[i] += MathF.CopySign(gap, s[i]);
        return t;
    }

    private static Tensor Positive(int seed, params int[] shape)
    {
        var t = R(seed, shape);
        var s = t.Span;
        for (int i = 0; i < s.Length; i++) s[i] = MathF.Abs(s[i]) + 0.5f;
        return t;
    }

    public static TheoryData<UnaryOp> UnaryOps => new(Enum.GetValues<UnaryOp>());

    [Theory]
    [MemberData(nameof(UnaryOps))]
    public void UnaryOpGradients(UnaryOp op)
    {
        bool positive = op is UnaryOp.Log or UnaryOp.Sqrt or UnaryOp.Rsqrt or UnaryOp.Pow;
        float param = op == UnaryOp.Pow ? 1.7f : 0f;
        Tensor Make(int seed, params int[] shape) => positive ? Positive(seed, shape) : AwayFromZero(seed, op == UnaryOp.Relu ? 0.05f : 0f, shape);
        // 19 columns: a full 16-lane vector plus a tail; the transposed case reads a strided view.
        GradCheck.Check(x => F.Unary(x[0], op, param), [Make(1, 2, 19)]);
        GradCheck.Check(x => F.Unary(F.Transpose(x[0], 0, 1), op, param), [Make(2, 5, 3)]);
    }

    [Fact]
    public void PowWithIntegerAndNegativeExponents()
    {
        GradCheck.Check(x => F.Pow(x[0], 3f), [R(1, 3, 7)]);
        GradCheck.Check(x => F.Pow(x[0], -2f), [AwayFromZero(2, 0.7f, 3, 7)]);
        GradCheck.Check(x => F.Pow(x[0], 0.5f), [Positive(3, 3, 7)]);
    }

    [Fact]
    public void GeluTanhApproximation() => GradCheck.Check(x => F.Gelu(x[0], "tanh"), [R(4, 3, 11)]);

    [Fact]
    public void SwiGluGradients()
    {
        GradCheck.Check(x => F.SwiGlu(x[0], x[1]), [R(1, 3, 19), R(2, 3, 19)]);
        GradCheck.Check(x => F.SwiGlu(F.Transpose(x[0], 0, 1), x[1]), [R(3, 5, 2), R(4, 2, 5)]);
    }

    [Fact]
    public void SumMeanVarAlongDims()
    {
        foreach (int dim in new[] { 0, 1, -1 })
            foreach (bool keep in new[] { false, true })
            {
                GradCheck.Check(x => F.Sum(x[0], dim, keep), [R(1, 3, 4, 5)]);
                GradCheck.Check(x => F.Mean(x[0], dim, keep), [R(2, 3, 4, 5)]);
                GradCheck.Check(x => F.Var(x[0], dim, keep), [R(3, 3, 4, 5)]);
            }
        GradCheck.Check(x => F.Var(x[0], -1, correction: 0), [R(4, 2, 9)]);
        GradCheck.Check(x => F.Sum(F.Transpose(x[0], 0, 1), 1), [R(5, 4, 3)]);
    }

    [Fact]
    public void MaxSendsGradientToTheArgmax()
    {
        GradCheck.Check(x => F.Max(x[0], 1).Values, [R(1, 3, 6, 2)]);
        GradCheck.Check(x => F.Max(x[0], -1, keepDim: true).Values, [R(2, 4, 9)]);
        GradCheck.Check(x => F.Max(F.Transpose(x[0], 0, 1), 0).Values, [R(3, 3, 5)]);
    }

    [Fact]
    public void MaxAndArgMaxValues()
    {
        using var x = Tensor.FromArray([1, 5, 3, 7, 2, 7], 2, 3);
        var (v, i) = Ops.Max(x, 1);
        Assert.Equal([5f, 7f], v.ToArray());
        Assert.Equal([1f, 0f], i.ToArray()); // the first of equal maxima, as PyTorch
        Assert.Equal([1f, 0f, 1f], Ops.ArgMax(x, 0).ToArray());
        Assert.Equal([2, 1], Ops.ArgMax(x, 1, keepDim: true).Shape);
    }

    [Fact]
    public void SoftmaxAndLogSoftmax()
    {
        GradCheck.Check(x => F.Softmax(x[0]), [R(1, 3, 19)]);
        GradCheck.Check(x => F.LogSoftmax(x[0]), [R(2, 3, 19)]);
        GradCheck.Check(x => F.Softmax(x[0], 0), [R(3, 4, 3)]);
        GradCheck.Check(x => F.LogSoftmax(F.Transpose(x[0], 0, 1)), [R(4, 5, 3)]);
    }

    [Fact]
    public void SoftmaxIsStableForHugeLogits()
    {
        using var x = Tensor.FromArray([1000f, 1001f, -1000f], 1, 3);
        using var y = Ops.Softmax(x);
        using var l = Ops.LogSoftmax(x);
        Assert.Equal(1f / (1f + MathF.E), y[0, 0], 5);
        Assert.Equal(-1f - MathF.Log(1f + MathF.Exp(-1f)), l[0, 0], 3); // float spacing at 1000 is 6e-5
        Assert.All(y.ToArray().Concat(l.ToArray()), v => Assert.False(float.IsNaN(v)));
    }

    [Fact]
    public void LayerNormAndRmsNorm()
    {
        GradCheck.Check(x => F.LayerNorm(x[0], x[1], x[2]), [R(1, 3, 19), R(2, 19), R(3, 19)], tol: 3e-2f);
        GradCheck.Check(x => F.LayerNorm(x[0], x[1], null), [R(4, 2, 3, 5), R(5, 5)], tol: 3e-2f);
        GradCheck.Check(x => F.LayerNorm(x[0], null, null), [R(6, 4, 7)], tol: 3e-2f);
        GradCheck.Check(x => F.LayerNorm(F.Transpose(x[0], 0, 1), x[1], x[2]), [R(7, 6, 3), R(8, 6), R(9, 6)], tol: 3e-2f);
        GradCheck.Check(x => F.RmsNorm(x[0], x[1]), [R(10, 3, 19), R(11, 19)], tol: 3e-2f);
        GradCheck.Check(x => F.RmsNorm(F.Transpose(x[0], 0, 1), null), [R(12, 5, 3)], tol: 3e-2f);
    }

    [Fact]
    public void EmbeddingScatterAddsRepeatedIds()
    {
        int[] ids = [3, 1, 3, 0, 3, 2];
        GradCheck.Check(x => F.Embedding(x[0], ids, [2, 3]), [R(1, 5, 4)]);
        var w = R(2, 5, 4);
        w.RequiresGrad = true;
        Autograd.Backward(F.Sum(F.Embedding(w, ids, [6])));
        var g = w.Grad!.ToArray();
        Assert.Equal(3f, g[3 * 4]);  // id 3 appears three times
        Assert.Equal(0f, g[4 * 4]);  // id 4 never
    }

    [Fact]
    public void EmbeddingOutOfRangeIdNamesIdAndVocab()
    {
        using var w = R(1, 5, 4);
        var e = Assert.ThrowsAny<ArgumentException>(() => F.Embedding(w, [1, 7], [2]));
        Assert.Contains("7", e.Message);
        Assert.Contains("5", e.Message);
        Assert.ThrowsAny<ArgumentException>(() => F.Embedding(w, [-1], [1]));
        using var frac = Tensor.FromArray([1.5f], 1);
        Assert.ThrowsAny<ArgumentException>(() => F.Embedding(w, frac));
    }

    [Fact]
    public void CrossEntropyReductionsAndIgnoreIndex()
    {
        int[] t = [2, -100, 0, 4];
        GradCheck.Check(x => F.CrossEntropy(x[0], t), [R(1, 4, 5)]);
        GradCheck.Check(x => F.CrossEntropy(x[0], t, reduction: Reduction.Sum), [R(2, 4, 5)]);
        GradCheck.Check(x => F.CrossEntropy(x[0], t, reduction: Reduction.None), [R(3, 4, 5)]);
        GradCheck.Check(x => F.CrossEntropy(x[0], [1, 1, 3], ignoreIndex: 1), [R(4, 3, 19)]);
        // Matches -log_softmax picked at the targets.
        using var logits = R(5, 4, 5);
        using var ls = Ops.LogSoftmax(logits);
        using var loss = Ops.CrossEntropy(logits, t);
        float expected = -(ls[0, 2] + ls[2, 0] + ls[3, 4]) / 3f;
        Assert.Equal(expected, loss.ToScalar(), 5);
    }

    [Fact]
    public void CrossEntropyWithEveryTargetIgnoredIsNaNLikePyTorchWithZeroGradient()
    {
        var x = R(1, 3, 5);
        x.RequiresGrad = true;
        var loss = F.CrossEntropy(x, [-100, -100, -100]);
        Assert.True(float.IsNaN(loss.ToScalar()));
        Autograd.Backward(loss);
        Assert.All(x.Grad!.ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void CrossEntropyBadTargetsThrow()
    {
        using var x = R(1, 3, 5);
        var e = Assert.ThrowsAny<ArgumentException>(() => F.CrossEntropy(x, [0, 5, 1]));
        Assert.Contains("5", e.Message);
        Assert.Throws<ShapeMismatchException>(() => F.CrossEntropy(x, [0, 1]));
    }

    [Fact]
    public void CatAndSplitAlongAnyDim()
    {
        GradCheck.Check(x => F.Cat(x, 1), [R(1, 2, 3, 4), R(2, 2, 1, 4), R(3, 2, 2, 4)]);
        GradCheck.Check(x => F.Cat(x, 0), [R(4, 1, 3), R(5, 2, 3)]);
        GradCheck.Check(x => F.Cat([x[0], F.Transpose(x[1], 0, 1)], -1), [R(6, 3, 2), R(7, 4, 3)]);
        // Pieces used differently; the middle piece is unused and must get a zero gradient.
        GradCheck.Check(x =>
        {
            var p = F.Split(x[0], [2, 1, 3], 1);
            return F.Cat([F.Exp(p[0]), F.Scale(p[2], 3f)], 1);
        }, [R(8, 3, 6)]);
        GradCheck.Check(x => F.Split(x[0], [1, 2], 0)[1], [R(9, 3, 4)]);
    }

    [Fact]
    public void CatSplitRoundTripAndShapeErrors()
    {
        using var x = R(1, 2, 7, 3);
        var parts = Ops.Split(x, [3, 4], 1);
        using var back = Ops.Cat(parts, 1);
        Assert.Equal(x.ToArray(), back.ToArray());
        Assert.Throws<ShapeMismatchException>(() => Ops.Split(x, [3, 3], 1));
        using var y = R(2, 2, 7, 4);
        var e = Assert.Throws<ShapeMismatchException>(() => Ops.Cat([x, y], 1));
        Assert.Contains("(2, 7, 3)", e.Message);
        Assert.Contains("(2, 7, 4)", e.Message);
        Assert.ThrowsAny<ArgumentException>(() => Ops.Cat([x, x], 3));
    }

    [Fact]
    public void DropoutIsInvertedSeededAndItsGradientIsTheMask()
    {
        var x = Tensor.Ones(100, 100);
        x.RequiresGrad = true;
        var y = F.Dropout(x, 0.3f, true, new Rng(5));
        var v = y.ToArray();
        float kept = 1f / 0.7f;
        Assert.All(v, e => Assert.True(e == 0f || MathF.Abs(e - kept) < 1e-6f));
        double zeros = v.Count(e => e == 0f) / (double)v.Length;
        Assert.InRange(zeros, 0.27, 0.33);
        Autograd.Backward(F.Sum(y));
        Assert.Equal(v, x.Grad!.ToArray()); // x is ones, so y is the mask itself
        // Same seed, same mask.
        using var y2 = Ops.Dropout(Tensor.Ones(100, 100), 0.3f, new Rng(5), out var mask);
        Assert.Equal(v, y2.ToArray());
        mask.Dispose();
        GradCheck.Check(t => F.Dropout(t[0], 0.5f, true, new Rng(9)), [R(1, 3, 8)]);
    }

    [Fact]
    public void DropoutEdgeCases()
    {
        using var x = R(1, 4, 4);
        using (var eval = F.Dropout(x, 0.9f, false, new Rng(1))) Assert.Equal(x.ToArray(), eval.ToArray());
        using (var none = F.Dropout(x, 0f, true, new Rng(1))) Assert.Equal(x.ToArray(), none.ToArray());
        using (var all = F.Dropout(x, 1f, true, new Rng(1))) Assert.All(all.ToArray(), v => Assert.Equal(0f, v));
        Assert.ThrowsAny<ArgumentException>(() => F.Dropout(x, 1.5f, true, new Rng(1)));
    }

    [Fact]
    public void BadDimensionsAndShapesThrow()
    {
        using var x = R(1, 2, 3);
        Assert.ThrowsAny<ArgumentException>(() => F.Sum(x, 2));
        Assert.ThrowsAny<ArgumentException>(() => F.Max(x, -3));
        Assert.ThrowsAny<ArgumentException>(() => F.Softmax(x, 5));
        Assert.ThrowsAny<ArgumentException>(() => F.Gelu(x, "fast"));
        var e = Assert.Throws<ShapeMismatchException>(() => F.SwiGlu(x, R(2, 3, 2)));
        Assert.Contains("(2, 3)", e.Message);
        Assert.Contains("(3, 2)", e.Message);
        var n = Assert.Throws<ShapeMismatchException>(() => F.LayerNorm(x, R(3, 4), null));
        Assert.Contains("(4)", n.Message);
        Assert.Contains("(2, 3)", n.Message);
    }
}
