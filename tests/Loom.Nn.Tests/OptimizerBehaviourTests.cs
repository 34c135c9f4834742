using Loom.Tensors;

namespace Loom.Nn.Tests;

/// <summary>Optimizer properties the oracle does not cover: threading, state dicts, skipping, allocation, EMA, schedule edges.</summary>
/// <summary>Runs alone: one test checks BufferPool.LiveBytes, a process-wide count that parallel test classes would move.</summary>
[CollectionDefinition("pool-accounting", DisableParallelization = true)]
public sealed class PoolAccountingCollection;

[Collection("pool-accounting")]
public class OptimizerBehaviourTests
{
    private static Tensor Param(int seed, params int[] shape)
    {
        using (TensorScope.Suspend()) return Tensor.RandNormal(new Rng((ulong)seed), 0, 1, shape);
    }

    private static void SetGrad(Tensor p, int seed)
    {
        p.Grad?.Dispose();
        p.Grad = Param(seed, p.Shape);
    }

    [Fact]
    public void BigParameterSplitAcrossThreadsMatchesSmallSerialSlices()
    {
        // 200k elements run on the compute pool; 1000-element slices run inline. Elementwise math must agree bit for bit.
        const int n = 200_000, slice = 1000;
        var big = Param(1, n);
        SetGrad(big, 2);
        var parts = Enumerable.Range(0, n / slice).Select(i =>
        {
            var p = Tensor.FromArray(big.Span.Slice(i * slice, slice), slice);
            p.Grad = Tensor.FromArray(big.Grad!.Span.Slice(i * slice, slice), slice);
            return ($"s{i}", p);
        }).ToList();
        using var a = new AdamW([("big", big)], lr: 1e-2, weightDecay: 0.1);
        using var b = new AdamW(parts, lr: 1e-2, weightDecay: 0.1);
        for (int s = 0; s < 3; s++) { a.Step(); b.Step(); }
        var expected = parts.SelectMany(x => x.p.ToArray()).ToArray();
        Assert.Equal(expected, big.ToArray());
    }

    [Fact]
    public void StateDictRoundTripContinuesIdentically()
    {
        var p1 = Param(1, 3, 4);
        var p2 = Param(1, 3, 4);
        using var o1 = new AdamW([("w", p1)], lr: 1e-2);
        for (int s = 0; s < 3; s++) { SetGrad(p1, 10 + s); o1.Step(); }
        p2.CopyFrom(p1);
        using var o2 = new AdamW([("w", p2)], lr: 0.5);
        o2.LoadStateDict(o1.StateDict());
        Assert.Equal(3, o2.StepCount);
        Assert.Equal(1e-2, o2.LearningRate);
        for (int s = 3; s < 6; s++)
        {
            SetGrad(p1, 10 + s); SetGrad(p2, 10 + s);
            o1.Step(); o2.Step();
        }
        Assert.Equal(p1.ToArray(), p2.ToArray());
    }

    [Fact]
    public void LoadStateDictRejectsMismatchesWithoutChangingState()
    {
        var p = Param(1, 2, 2);
        using var adam = new AdamW([("w", p)], lr: 1e-3);
        using var sgd = new Sgd([("w", p)], lr: 0.1, momentum: 0.9);
        Assert.Contains("AdamW", Assert.Throws<ArgumentException>(() => sgd.LoadStateDict(adam.StateDict())).Message);

        using var other = new AdamW([("w", Param(2, 2, 3))], lr: 1e-3);
        var e = Assert.Throws<ArgumentException>(() => adam.LoadStateDict(other.StateDict()));
        Assert.Contains("w.exp_avg", e.Message);
        Assert.Contains("(2, 3)", e.Message);

        using var wd = new AdamW([("w", Param(3, 2, 2))], lr: 1e-3, weightDecay: 0.5);
        Assert.Contains("weight_decay", Assert.Throws<ArgumentException>(() => adam.LoadStateDict(wd.StateDict())).Message);
        adam.LoadStateDict(wd.StateDict(), checkHyperParameters: false);

        var s = adam.StateDict();
        s.Scalars.Remove("w.step");
        Assert.Contains("w.step", Assert.Throws<ArgumentException>(() => adam.LoadStateDict(s)).Message);
    }

    [Fact]
    public void ParametersWithoutGradientAreSkipped()
    {
        var a = Param(1, 4);
        var b = Param(2, 4);
        var before = b.ToArray();
        using var opt = new Sgd([("a", a), ("b", b)], lr: 0.1, momentum: 0.9, weightDecay: 0.1);
        SetGrad(a, 3);
        opt.Step();
        Assert.Equal(before, b.ToArray());
        Assert.Equal(1, opt.ParameterStep(0));
        Assert.Equal(0, opt.ParameterStep(1));
    }

    [Fact]
    public void StepDoesNotAllocate()
    {
        var ps = new[] { ("a", Param(1, 64, 33)), ("b", Param(2, 70_000)) };
        foreach (var (_, p) in ps) SetGrad(p, 5);
        using var adam = new AdamW(ps, lr: 1e-3, noDecay: ["a"]);
        using var sgd = new Sgd(ps, lr: 1e-3, momentum: 0.9, nesterov: true);
        for (int i = 0; i < 3; i++) { adam.Step(); sgd.Step(); }
        // Earlier tests' undisposed tensors return their buffers from finalizers; let those run before counting.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        long live = BufferPool.LiveBytes;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++) { adam.Step(); sgd.Step(); }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(live, BufferPool.LiveBytes);
    }

    [Fact]
    public void ZeroGradInPlaceKeepsBuffers()
    {
        var p = Param(1, 5);
        SetGrad(p, 2);
        var g = p.Grad;
        using var opt = new Sgd([("p", p)], lr: 0.1);
        opt.ZeroGrad(setToNone: false);
        Assert.Same(g, p.Grad);
        Assert.All(p.Grad!.ToArray(), v => Assert.Equal(0f, v));
        opt.ZeroGrad();
        Assert.Null(p.Grad);
    }

    [Fact]
    public void NoDecayNamesMustExist()
    {
        var e = Assert.Throws<ArgumentException>(() => new AdamW([("w", Param(1, 2))], noDecay: ["bias"]));
        Assert.Contains("bias", e.Message);
    }

    [Fact]
    public void EmaFollowsTheDefinitionAndRoundTrips()
    {
        var p = Param(1, 6);
        using var ema = new Ema([("p", p)], decay: 0.9);
        var shadow = p.ToArray();
        for (int s = 0; s < 5; s++)
        {
            var span = p.Span;
            for (int i = 0; i < span.Length; i++) span[i] += 0.5f * (s + 1);
            ema.Update();
            var cur = p.ToArray();
            for (int i = 0; i < shadow.Length; i++) shadow[i] = 0.9f * shadow[i] + 0.1f * cur[i];
        }
        var got = ema.Shadow("p").ToArray();
        for (int i = 0; i < got.Length; i++) Assert.Equal(shadow[i], got[i], 5);

        using var copy = new Ema([("p", Param(9, 6))], decay: 0.9);
        copy.LoadStateDict(ema.StateDict());
        Assert.Equal(got, copy.Shadow("p").ToArray());
        Assert.Equal(5, copy.Updates);
        using var wrong = new Ema([("p", Param(9, 6))], decay: 0.5);
        Assert.Throws<ArgumentException>(() => wrong.LoadStateDict(ema.StateDict()));
    }

    [Fact]
    public void EmaCopiesIntoAModel()
    {
        var model = new Linear(3, 2, bias: true, new Rng(1));
        using var ema = new Ema(model, decay: 0.5, warmup: true);
        Assert.Equal(0.1, ema.CurrentDecay, 12);
        model.Weight.Span.Fill(1f);
        ema.Update();
        ema.CopyTo(model);
        Assert.Equal(ema.Shadow("weight").ToArray(), model.Weight.ToArray());
    }

    [Fact]
    public void ScheduleEdgesAndValidation()
    {
        var s = new LrSchedule(1.0, warmupSteps: 0, totalSteps: 10, minLr: 0.1);
        Assert.Equal(1.0, s.At(0));
        Assert.Equal(0.55, s.At(5), 12);
        Assert.Equal(0.1, s.At(10));
        Assert.Equal(0.1, s.At(1000));
        var w = new LrSchedule(2.0, warmupSteps: 4, totalSteps: 4);
        Assert.Equal(0.5, w.At(0));
        Assert.Equal(2.0, w.At(3));
        Assert.Equal(0.0, w.At(4));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LrSchedule(1.0, 10, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LrSchedule(1.0, 0, 5, minLr: 2.0));
        Assert.Throws<ArgumentOutOfRangeException>(() => s.At(-1));
    }

    [Fact]
    public void ClipWithoutGradientsReturnsZeroAndLargeNormIsExact()
    {
        var p = Param(1, 3);
        Assert.Equal(0f, GradClip.ClipGradNorm([p], 1.0));
        p.Grad = Tensor.FromArray([3f, 4f, 0f], 3);
        Assert.Equal(5f, GradClip.ClipGradNorm([p], 1.0));
        var g = p.Grad.ToArray();
        Assert.Equal(1.0, Math.Sqrt(g.Sum(v => (double)v * v)), 5);
    }
}
