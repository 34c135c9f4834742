using System.Globalization;
using Loom.Formats;
using Loom.Tensors;
using Loom.Testing;
using Xunit.Abstractions;

namespace Loom.Nn.Tests;

/// <summary>Compares the optimizers, clipping and schedule with PyTorch 1.13 (tools/fixtures/gen_optim.py).</summary>
public sealed class OptimizerOracleTests : IDisposable
{
    private const float Rtol = 1e-6f;
    private static readonly string[] Names = ["p0", "p1", "p2"];
    private readonly Dictionary<string, Tensor> _fx;
    private readonly IReadOnlyDictionary<string, string> _meta;
    private readonly ITestOutputHelper _out;

    public OptimizerOracleTests(ITestOutputHelper output)
    {
        _out = output;
        _fx = SafeTensorsFile.Load(Fixtures.PathOf("optim.safetensors"), out _meta);
    }

    public void Dispose()
    {
        foreach (var t in _fx.Values) t.Dispose();
    }

    private double D(string key) => double.Parse(_meta[key], CultureInfo.InvariantCulture);

    private double[] List(string key) => _meta[key].Split(',').Select(s => double.Parse(s, CultureInfo.InvariantCulture)).ToArray();

    private List<(string, Tensor)> FreshParams()
    {
        using (TensorScope.Suspend()) return Names.Select(n => (n, _fx["init." + n].Clone())).ToList();
    }

    /// <summary>Runs 3 steps, setting the fixture's gradients and lr each step, and compares parameters after every step.</summary>
    private void RunAndCompare(string name, Optimizer opt, List<(string, Tensor)> ps, double[] lrs)
    {
        for (int s = 1; s <= 3; s++)
        {
            opt.LearningRate = lrs[s - 1];
            foreach (var (n, p) in ps)
            {
                p.Grad?.Dispose();
                using (TensorScope.Suspend()) p.Grad = _fx[$"grad.{s}.{n}"].Clone();
            }
            opt.Step();
            foreach (var (n, p) in ps) Check(_fx[$"{name}.{s}.{n}"], p, $"{name} step {s} {n}");
        }
        Assert.Equal(3, opt.StepCount);
    }

    private void Check(Tensor expected, Tensor actual, string what)
    {
        Fixtures.AssertClose(expected, actual, Rtol, what);
        var e = expected.ToArray();
        var a = actual.ToArray();
        double worst = 0;
        for (int i = 0; i < e.Length; i++) worst = Math.Max(worst, Math.Abs(e[i] - a[i]) / Math.Max(Math.Abs(e[i]), 1e-30));
        _out.WriteLine($"{what}: max relative error {worst:E2}");
    }

    [Fact]
    public void AdamWMatchesTorchWithPerStepLrAndNoDecaySet()
    {
        var ps = FreshParams();
        using var opt = new AdamW(ps, lr: 0, beta1: D("adamw.beta1"), beta2: D("adamw.beta2"), eps: D("adamw.eps"),
            weightDecay: D("adamw.weight_decay"), noDecay: [_meta["adamw.no_decay"]]);
        RunAndCompare("adamw", opt, ps, List("lrs"));
        var state = opt.StateDict();
        foreach (var n in Names)
        {
            Check(_fx["adamw.exp_avg." + n], state.Tensors[n + ".exp_avg"], "exp_avg " + n);
            Check(_fx["adamw.exp_avg_sq." + n], state.Tensors[n + ".exp_avg_sq"], "exp_avg_sq " + n);
        }
        foreach (var (_, p) in ps) p.Dispose();
    }

    [Theory]
    [InlineData("sgd")]
    [InlineData("sgd_nesterov")]
    [InlineData("sgd_damp")]
    public void SgdMatchesTorch(string name)
    {
        var ps = FreshParams();
        using var opt = new Sgd(ps, lr: 0, momentum: D(name + ".momentum"), dampening: D(name + ".dampening"),
            nesterov: D(name + ".nesterov") != 0, weightDecay: D(name + ".weight_decay"));
        RunAndCompare(name, opt, ps, List("sgd_lrs"));
        var state = opt.StateDict();
        foreach (var n in Names) Check(_fx[$"{name}.momentum_buffer.{n}"], state.Tensors[n + ".momentum_buffer"], "momentum " + n);
        foreach (var (_, p) in ps) p.Dispose();
    }

    [Theory]
    [InlineData("small")]
    [InlineData("large")]
    public void ClipGradNormMatchesTorch(string which)
    {
        var ps = FreshParams();
        foreach (var (n, p) in ps)
            using (TensorScope.Suspend()) p.Grad = _fx["grad.1." + n].Clone();
        float total = GradClip.ClipGradNorm(ps.Select(x => x.Item2), D($"clip.{which}.max_norm"));
        float expected = _fx[$"clip.{which}.total"].ToArray()[0];
        Assert.True(Math.Abs(total - expected) <= Rtol * expected, $"total norm {total}, expected {expected}");
        foreach (var (n, p) in ps) Check(_fx[$"clip.{which}.grad.{n}"], p.Grad!, $"clipped grad {n}");
        foreach (var (_, p) in ps) p.Dispose();
    }

    [Fact]
    public void WarmupCosineScheduleMatchesFormula()
    {
        var sched = new LrSchedule(D("schedule.peak"), (long)D("schedule.warmup"), (long)D("schedule.total"), D("schedule.min"));
        var expected = _fx["schedule"];
        int n = (int)D("schedule.n");
        using var actual = Tensor.FromArray(Enumerable.Range(0, n).Select(s => (float)sched.At(s)).ToArray(), n);
        Check(expected, actual, "schedule");
    }
}
