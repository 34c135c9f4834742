using Loom.Tensors;

namespace Loom.Nn.Tests;

/// <summary>The Embedding, LayerNorm, RmsNorm and Dropout modules: PyTorch's parameter names, defaults and behaviour.</summary>
public class NormEmbeddingLayerTests
{
    [Fact]
    public void StateDictNamesAndShapesMatchPyTorch()
    {
        Assert.Equal([("weight", new[] { 10, 4 })], new Embedding(10, 4, new Rng(1)).StateDict().Select(p => (p.Key, p.Value.Shape)));
        var ln = new LayerNorm(6);
        Assert.Equal(["weight", "bias"], ln.StateDict().Keys);
        Assert.All(ln.Weight!.ToArray(), v => Assert.Equal(1f, v));
        Assert.All(ln.Bias!.ToArray(), v => Assert.Equal(0f, v));
        Assert.Equal(["weight"], new LayerNorm(6, bias: false).StateDict().Keys);
        Assert.Empty(new LayerNorm(6, elementwiseAffine: false).StateDict());
        var rms = new RmsNorm(6);
        Assert.Equal(["weight"], rms.StateDict().Keys);
        Assert.Equal(1.1920929e-7f, rms.Eps);
        Assert.Empty(new Dropout(new Rng(1)).StateDict());
    }

    [Fact]
    public void EmbeddingInitIsStandardNormalWithAZeroPaddingRowThatGetsNoGradient()
    {
        var emb = new Embedding(200, 50, new Rng(3), paddingIdx: -1);
        Assert.Equal(199, emb.PaddingIdx);
        var w = emb.Weight.ToArray();
        double mean = w.Average(), std = Math.Sqrt(w.Average(v => (v - mean) * (v - mean)));
        Assert.InRange(mean, -0.05, 0.05);
        Assert.InRange(std, 0.95, 1.05);
        Assert.All(w.Skip(199 * 50), v => Assert.Equal(0f, v));
        var y = emb.Forward([199, 5, 199], 3);
        Assert.Equal([3, 50], y.Shape);
        Autograd.Backward(F.Sum(y));
        var g = emb.Weight.Grad!.ToArray();
        Assert.All(g.Skip(199 * 50), v => Assert.Equal(0f, v));
        Assert.All(g.Skip(5 * 50).Take(50), v => Assert.Equal(1f, v));
        emb.ZeroGrad();
    }

    [Fact]
    public void LayerNormModuleNormalisesRows()
    {
        var ln = new LayerNorm(37);
        using var x = Tensor.RandNormal(new Rng(2), 3, 2, 4, 37);
        using var y = ln.Forward(x);
        using var mean = Ops.Mean(y, -1);
        using var v = Ops.Var(y, -1, correction: 0);
        Assert.All(mean.ToArray(), m => Assert.True(MathF.Abs(m) < 1e-5f));
        Assert.All(v.ToArray(), s => Assert.True(MathF.Abs(s - 1f) < 1e-3f));
        Assert.Throws<ShapeMismatchException>(() => ln.Forward(Tensor.Zeros(2, 36)));
    }

    [Fact]
    public void RmsNormModuleGivesUnitRootMeanSquare()
    {
        var rms = new RmsNorm(67, eps: 1e-6f);
        using var x = Tensor.RandNormal(new Rng(4), 2, 3, 5, 67);
        using var y = rms.Forward(x);
        using var sq = Ops.Square(y);
        using var ms = Ops.Mean(sq, -1);
        Assert.All(ms.ToArray(), m => Assert.True(MathF.Abs(m - 1f) < 1e-4f));
    }

    [Fact]
    public void DropoutModuleFollowsTrainAndEval()
    {
        var d = new Dropout(new Rng(7), 0.5f);
        using var x = Tensor.Ones(64, 64);
        using (var y = d.Forward(x)) Assert.Contains(0f, y.ToArray());
        d.Eval();
        using (var y = d.Forward(x)) Assert.Equal(x.ToArray(), y.ToArray());
        Assert.ThrowsAny<ArgumentException>(() => new Dropout(new Rng(1), -0.1f));
    }
}
