using Loom.Tensors;
using Loom.Testing;
using Xunit.Abstractions;

namespace Loom.Nn.Tests;

/// <summary>
/// Forward values and input gradients of sum(y * w) against PyTorch (float64 reference from float32 inputs),
/// from tests/fixtures/ops_core.safetensors written by tools/fixtures/gen_ops_core.py.
/// </summary>
public class OpsCoreOracleTests(ITestOutputHelper output)
{
    private const float Rtol = 1e-4f;
    private const int Stride = 127; // must match STRIDE in gen_ops_core.py

    private static readonly Lazy<Dictionary<string, Tensor>> Data = new(() =>
    {
        using (TensorScope.Suspend()) return Fixtures.Load("ops_core.safetensors");
    });

    private static Tensor Ids(string c) => Data.Value[c + ".ids"];

    /// <summary>Each case: how Loom computes the outputs from the fixture inputs.</summary>
    private static readonly Dictionary<string, Func<Tensor[], Tensor[]>> Cases = new()
    {
        ["neg"] = x => [F.Neg(x[0])],
        ["exp"] = x => [F.Exp(x[0])],
        ["log"] = x => [F.Log(x[0])],
        ["sqrt"] = x => [F.Sqrt(x[0])],
        ["rsqrt"] = x => [F.Rsqrt(x[0])],
        ["square"] = x => [F.Square(x[0])],
        ["pow3"] = x => [F.Pow(x[0], 3f)],
        ["pow_frac"] = x => [F.Pow(x[0], 1.7f)],
        ["pow_neg2"] = x => [F.Pow(x[0], -2f)],
        ["tanh"] = x => [F.Tanh(x[0])],
        ["sigmoid"] = x => [F.Sigmoid(x[0])],
        ["relu"] = x => [F.Relu(x[0])],
        ["gelu"] = x => [F.Gelu(x[0])],
        ["gelu_tanh"] = x => [F.Gelu(x[0], "tanh")],
        ["silu"] = x => [F.Silu(x[0])],
        ["swiglu"] = x => [F.SwiGlu(x[0], x[1])],
        ["sum_dim1"] = x => [F.Sum(x[0], 1)],
        ["sum_last_keep"] = x => [F.Sum(x[0], -1, keepDim: true)],
        ["mean_dim0_keep"] = x => [F.Mean(x[0], 0, keepDim: true)],
        ["mean_last"] = x => [F.Mean(x[0], -1)],
        ["max_dim0"] = x => [MaxChecked("max_dim0", x[0], 0, false)],
        ["max_last_keep"] = x => [MaxChecked("max_last_keep", x[0], -1, true)],
        ["var_dim1"] = x => [F.Var(x[0], 1)],
        ["var_last_biased_keep"] = x => [F.Var(x[0], -1, keepDim: true, correction: 0)],
        ["softmax"] = x => [F.Softmax(x[0])],
        ["log_softmax"] = x => [F.LogSoftmax(x[0])],
        ["softmax_dim0"] = x => [F.Softmax(x[0], 0)],
        ["layer_norm"] = x => [F.LayerNorm(x[0], x[1], x[2], 1e-5f)],
        ["layer_norm_nobias"] = x => [F.LayerNorm(x[0], x[1], null, 1e-5f)],
        ["layer_norm_noaffine"] = x => [F.LayerNorm(x[0], null, null, 1e-5f)],
        ["rms_norm"] = x => [F.RmsNorm(x[0], x[1], 1e-6f)],
        ["embedding"] = x => [F.Embedding(x[0], Ids("embedding"))],
        ["cross_entropy"] = x => [F.CrossEntropy(x[0], Ids("cross_entropy"))],
        ["cross_entropy_sum"] = x => [F.CrossEntropy(x[0], Ids("cross_entropy_sum"), reduction: Reduction.Sum)],
        ["cat_dim1"] = x => [F.Cat(x, 1)],
        ["cat_last"] = x => [F.Cat(x, -1)],
        ["split_dim1"] = x => F.Split(x[0], [3, 5, 2], 1),
        ["big_gelu"] = x => [F.Gelu(x[0])],
        ["big_swiglu"] = x => [F.SwiGlu(x[0], x[1])],
        ["big_softmax"] = x => [F.Softmax(x[0])],
        ["big_log_softmax"] = x => [F.LogSoftmax(x[0])],
        ["big_layer_norm"] = x => [F.LayerNorm(x[0], x[1], x[2], 1e-5f)],
        ["big_rms_norm"] = x => [F.RmsNorm(x[0], x[1], 1e-6f)],
        ["big_sum_dim0"] = x => [F.Sum(x[0], 0)],
        ["big_cross_entropy"] = x => [F.CrossEntropy(x[0], Ids("big_cross_entropy"))],
        ["big_embedding"] = x => [F.Embedding(x[0], Ids("big_embedding"))],
    };

    /// <summary>Max values, after checking that Max's and ArgMax's indices are PyTorch's.</summary>
    private static Tensor MaxChecked(string c, Tensor x, int dim, bool keepDim)
    {
        var (values, indices) = F.Max(x, dim, keepDim);
        Assert.Equal(Ids(c).ToArray(), indices.ToArray());
        using var arg = F.ArgMax(x, dim, keepDim);
        Assert.Equal(Ids(c).ToArray(), arg.ToArray());
        return values;
    }

    public static TheoryData<string> CaseNames => new(Cases.Keys);

    [Fact]
    public void EveryFixtureCaseHasALoomImplementation()
    {
        var inFile = Data.Value.Keys.Select(k => k.Split('.')[0]).ToHashSet();
        Assert.Empty(inFile.Except(Cases.Keys));
        Assert.Empty(Cases.Keys.Except(inFile));
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void MatchesPyTorch(string c)
    {
        using var scope = new TensorScope();
        var inputs = new List<Tensor>();
        for (int k = 0; Has($"{c}.in.{k}"); k++) inputs.Add(Get($"{c}.in.{k}"));
        var diff = Enumerable.Range(0, inputs.Count).Where(k => Has($"{c}.grad.{k}")).ToList();
        foreach (int k in diff) inputs[k].RequiresGrad = true;

        var ys = Cases[c](inputs.ToArray());
        Tensor? loss = null;
        for (int k = 0; k < ys.Length; k++)
        {
            var w = Get($"{c}.w.{k}"); // the scope frees it after backward
            var term = F.Sum(F.Mul(ys[k], w));
            loss = loss == null ? term : F.Add(loss, term);
        }
        Autograd.Backward(loss!);

        var names = Enumerable.Range(0, ys.Length).Select(k => ($"{c}.out.{k}", ys[k]))
            .Concat(diff.Select(k => ($"{c}.grad.{k}", inputs[k].Grad!)));
        foreach (var (name, actual) in names)
            output.WriteLine($"{name}: max error {Expect(name, actual):E2} (relative, AssertClose's measure)");
        foreach (var t in inputs) { t.Grad?.Dispose(); t.Grad = null; }
    }

    private static bool Has(string name) => Data.Value.ContainsKey(name) || Data.Value.ContainsKey(name + "#f") || Data.Value.ContainsKey(name + "#s");

    /// <summary>A fixture tensor (a fresh copy), evaluating the formula for large inputs.</summary>
    private static Tensor Get(string name)
    {
        if (Data.Value.TryGetValue(name, out var t)) return t.Clone();
        var spec = Data.Value[name + "#f"].ToArray();
        double seed = spec[0], scale = spec[1], offset = spec[2];
        var shape = spec[3..].Select(v => (int)v).ToArray();
        var r = Tensor.Empty(shape);
        var s = r.Span;
        for (int i = 0; i < s.Length; i++)
            s[i] = (float)((Math.Sin(i * 0.7311 + seed * 1.3) * 2.0 + 0.5 * Math.Cos(i * 0.0137 + seed)) * scale + offset);
        return r;
    }

    /// <summary>Compares with the stored tensor (or its every-Stride-th sample) and returns the worst relative error.</summary>
    private static double Expect(string name, Tensor actual)
    {
        Tensor expected;
        Tensor got;
        if (Data.Value.TryGetValue(name, out var e))
        {
            expected = e;
            got = actual;
        }
        else
        {
            expected = Data.Value[name + "#s"];
            var a = actual.ToArray();
            var sample = new float[expected.Length];
            for (int i = 0; i < sample.Length; i++) sample[i] = a[(long)i * Stride];
            Assert.Equal((a.Length + Stride - 1) / Stride, sample.Length);
            got = Tensor.FromArray(sample, (int)expected.Length);
            expected = expected.Reshape((int)expected.Length);
        }
        Fixtures.AssertClose(expected, got, Rtol, name);
        var ev = expected.ToArray();
        var gv = got.ToArray();
        float maxAbs = ev.Length == 0 ? 0 : ev.Max(MathF.Abs);
        double floor = maxAbs * 1e-3 + 1e-12, worst = 0;
        for (int i = 0; i < ev.Length; i++) worst = Math.Max(worst, Math.Abs(ev[i] - gv[i]) / Math.Max(Math.Abs(ev[i]), floor));
        return worst;
    }
}
