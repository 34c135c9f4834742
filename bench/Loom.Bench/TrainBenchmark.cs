using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using Loom.Models.Llama;
using Loom.Nn;
using Loom.Tensors;
using Loom.Training.Data;

namespace Loom.Bench;

/// <summary>
/// A model and batch shape for the training benchmark (nanoGPT's character-level configurations). The model is
/// Loom's Llama-style decoder with KV heads = heads, tied embeddings and SwiGLU hidden size
/// <see cref="FfnDim"/> = 8*dim/3 rounded up to a multiple of 8 (the 4*dim MLP's parameter count at 2/3 width).
/// </summary>
public sealed record TrainPreset(string Name, int Layers, int Heads, int Dim, int Context, int Batch, int DefaultWarmup, int DefaultSteps)
{
    /// <summary>SwiGLU hidden size: ceil(4 * dim * 2/3 / 8) * 8 (344 for dim 128, 1024 for dim 384).</summary>
    public int FfnDim => (8 * Dim / 3 + 7) / 8 * 8;

    public int TokensPerStep => Batch * Context;

    /// <summary>nanoGPT's "baby GPT" for CPUs, and its shakespeare_char model at batch 16.</summary>
    public static readonly TrainPreset[] All =
    [
        new("nanogpt-cpu", Layers: 4, Heads: 4, Dim: 128, Context: 64, Batch: 12, DefaultWarmup: 5, DefaultSteps: 40),
        new("nanogpt-small", Layers: 6, Heads: 6, Dim: 384, Context: 256, Batch: 16, DefaultWarmup: 1, DefaultSteps: 5),
    ];

    public static TrainPreset? Find(string name) => All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>The Llama config of this preset for a vocabulary of <paramref name="vocab"/> characters.</summary>
    public LlamaConfig ModelConfig(int vocab) => new()
    {
        VocabSize = vocab, Dim = Dim, Layers = Layers, Heads = Heads, KvHeads = Heads, FfnDim = FfnDim,
        MaxSeqLen = Context, RopeTheta = 10000f, NormEps = 1e-5f, TieEmbeddings = true,
    };
}

/// <summary>
/// A text as character ids, split by data/README.md's Moby-Dick rule: train on the first floor(0.9 N) characters,
/// validate on the rest. The vocabulary is the text's distinct Unicode code points sorted by value, one id each;
/// non-ASCII characters (the em dash, a few Greek and Hebrew letters) are ordinary entries, nothing is dropped.
/// </summary>
public sealed record CharCorpus(int[] Vocab, int[] Train, int[] Val)
{
    public const string DefaultRelativePath = "data/corpus/moby-dick.txt.gz";

    /// <summary>Reads a UTF-8 text file (gzip if it ends in .gz) and splits it 90/10.</summary>
    public static CharCorpus Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: corpus file not found", path);
        string text;
        using (var file = File.OpenRead(path))
        using (Stream s = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file)
        using (var reader = new StreamReader(s, new UTF8Encoding(false, true)))
            text = reader.ReadToEnd();
        var points = new List<int>(text.Length);
        foreach (var r in text.EnumerateRunes()) points.Add(r.Value);
        var vocab = points.Distinct().Order().ToArray();
        var index = new Dictionary<int, int>(vocab.Length);
        for (int i = 0; i < vocab.Length; i++) index[vocab[i]] = i;
        var ids = points.Select(p => index[p]).ToArray();
        int k = (int)(0.9 * ids.Length);
        return new CharCorpus(vocab, ids[..k], ids[k..]);
    }

    /// <summary>
    /// <paramref name="explicitPath"/> if given, else the first data/corpus/moby-dick.txt.gz found walking up from
    /// the current directory and from the program's directory; null when there is none.
    /// </summary>
    public static string? Locate(string? explicitPath)
    {
        if (explicitPath != null) return explicitPath;
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, DefaultRelativePath);
                if (File.Exists(candidate)) return candidate;
            }
        }
        return null;
    }
}

/// <summary>What one training benchmark run does: the preset, untimed then timed steps, threads, and options.</summary>
public sealed record TrainBenchOptions(TrainPreset Preset, int Warmup, int Steps, int Threads)
{
    public ulong Seed { get; init; } = 1337;
    public double Lr { get; init; } = 1e-3;
    public double MinLr { get; init; } = 1e-4;
    public int LrWarmup { get; init; } = 100;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.99;
    public double WeightDecay { get; init; } = 0.1;
    public double GradClip { get; init; } = 1.0;

    /// <summary>Warm-up + cosine learning rate over all steps (the quality run); otherwise a constant lr.</summary>
    public bool Schedule { get; init; }

    /// <summary>After training, the mean loss over the whole validation split.</summary>
    public bool Eval { get; init; }

    /// <summary>Time forward, backward, clipping and the optimizer separately on the timed steps.</summary>
    public bool Profile { get; init; }

    public int TotalSteps => Warmup + Steps;
}

/// <summary>Median milliseconds per timed step spent in each phase of a training step.</summary>
public sealed record TrainPhaseProfile(double DataMs, double ForwardMs, double BackwardMs, double ClipMs, double OptimizerMs)
{
    public double TotalMs => DataMs + ForwardMs + BackwardMs + ClipMs + OptimizerMs;
}

/// <summary>Loom's side of a training benchmark: throughput (median over timed steps) and the losses seen.</summary>
public sealed record TrainBenchResult(string Preset, int Threads, long Parameters, int Vocab, double TokensPerSecond,
    double MeanTokensPerSecond, double FirstLoss, double LastLoss, double? ValLoss, TrainPhaseProfile? Profile)
{
    /// <summary>With profiling: forward/backward milliseconds per timed step of each kind of op, largest first.</summary>
    public IReadOnlyList<OpTiming>? Ops { get; init; }
}

/// <summary>
/// Trains Loom's Llama-style model on a character corpus with the same loop as LmTrainer (sample, forward,
/// backward, clip, AdamW, one TensorScope per step) and measures training tokens per second.
/// </summary>
public static class TrainBenchmark
{
    /// <summary>Runs <paramref name="o"/> on <paramref name="corpus"/>; <paramref name="progress"/> gets occasional lines.</summary>
    public static TrainBenchResult Run(TrainBenchOptions o, CharCorpus corpus, Action<string>? progress = null, CancellationToken ct = default)
    {
        if (o.Steps < 1) throw new ArgumentOutOfRangeException(nameof(o), "at least one timed step is needed");
        if (o.Warmup < 0) throw new ArgumentOutOfRangeException(nameof(o), "warm-up steps must be >= 0");
        var p = o.Preset;
        int saved = ComputePool.Threads;
        ComputePool.SetThreads(o.Threads);
        try
        {
            LlamaModel model;
            using (TensorScope.Suspend()) model = new LlamaModel(p.ModelConfig(corpus.Vocab.Length), new Rng(o.Seed));
            var noDecay = model.NamedParameters().Where(x => x.Parameter.Rank < 2).Select(x => x.Name).ToList();
            var opt = new AdamW(model, o.Lr, o.Beta1, o.Beta2, 1e-8, o.WeightDecay, noDecay);
            var sampler = new BatchSampler(corpus.Train, p.Batch, p.Context, o.Seed + 1);
            var schedule = new LrSchedule(o.Lr, Math.Min(o.LrWarmup, o.TotalSteps), o.TotalSteps, o.MinLr);
            var parameters = model.Parameters().ToList();
            var inputs = new int[p.TokensPerStep];
            var targets = new int[p.TokensPerStep];
            var rates = new List<double>();
            var phases = new List<double[]>();
            double timedSeconds = 0, firstLoss = double.NaN, lastLoss = double.NaN;
            var ops = o.Profile ? new OpProfile() : null;
            model.Train();
            for (int step = 0; step < o.TotalSteps; step++)
            {
                ct.ThrowIfCancellationRequested();
                opt.LearningRate = o.Schedule ? schedule.At(step) : o.Lr;
                long t0 = Stopwatch.GetTimestamp();
                sampler.Next(inputs, targets);
                long t1 = Stopwatch.GetTimestamp(), t2, t3;
                double loss;
                if (ops != null && step >= o.Warmup)
                {
                    Autograd.Profile = ops;
                    ops.Mark();
                }
                using (var scope = new TensorScope())
                {
                    var l = model.Loss(inputs, targets, p.Batch, p.Context);
                    loss = l.ToScalar();
                    t2 = Stopwatch.GetTimestamp();
                    Autograd.Backward(l);
                    t3 = Stopwatch.GetTimestamp();
                }
                Autograd.Profile = null;
                Loom.Nn.GradClip.ClipGradNorm(parameters, o.GradClip);
                long t4 = Stopwatch.GetTimestamp();
                opt.Step();
                opt.ZeroGrad();
                long t5 = Stopwatch.GetTimestamp();
                if (!double.IsFinite(loss)) throw new InvalidOperationException($"loss became {loss} at step {step + 1}");
                if (step == 0) firstLoss = loss;
                lastLoss = loss;
                if (step >= o.Warmup)
                {
                    double seconds = Stopwatch.GetElapsedTime(t0, t5).TotalSeconds;
                    timedSeconds += seconds;
                    rates.Add(p.TokensPerStep / seconds);
                    if (o.Profile)
                        phases.Add([Ms(t0, t1), Ms(t1, t2), Ms(t2, t3), Ms(t3, t4), Ms(t4, t5)]);
                }
                if (progress != null && ((step + 1) % Math.Max(1, o.TotalSteps / 10) == 0 || step + 1 == o.TotalSteps))
                    progress($"loom step {step + 1}/{o.TotalSteps}: loss {loss:F4}, {p.TokensPerStep / Stopwatch.GetElapsedTime(t0, t5).TotalSeconds:F0} tok/s");
            }
            double? val = o.Eval ? Evaluate(model, corpus.Val, p.Context) : null;
            TrainPhaseProfile? profile = phases.Count == 0 ? null
                : new TrainPhaseProfile(Median(phases.Select(x => x[0])), Median(phases.Select(x => x[1])), Median(phases.Select(x => x[2])),
                    Median(phases.Select(x => x[3])), Median(phases.Select(x => x[4])));
            return new TrainBenchResult(p.Name, o.Threads, model.ParameterCount(), corpus.Vocab.Length, Median(rates),
                p.TokensPerStep * rates.Count / timedSeconds, firstLoss, lastLoss, val, profile)
            {
                Ops = ops?.Timings.Select(t => t with { ForwardMs = t.ForwardMs / o.Steps, BackwardMs = t.BackwardMs / o.Steps, Count = t.Count / o.Steps }).ToList(),
            };
        }
        finally
        {
            Autograd.Profile = null;
            ComputePool.SetThreads(saved);
        }
    }

    /// <summary>
    /// Mean loss in nats per character over every validation character after the first: consecutive windows of
    /// <paramref name="context"/> inputs, each predicting its next characters (the last window may be shorter).
    /// </summary>
    public static double Evaluate(LlamaModel model, int[] val, int context, int batch = 32)
    {
        model.Eval();
        int rows = (val.Length - 1) / context;
        double total = 0;
        long count = 0;
        using (Autograd.NoGrad())
        {
            for (int r0 = 0; r0 < rows; r0 += batch)
            {
                int b = Math.Min(batch, rows - r0);
                var x = val.AsSpan(r0 * context, b * context).ToArray();
                var y = val.AsSpan(r0 * context + 1, b * context).ToArray();
                using var scope = new TensorScope();
                total += (double)model.Loss(x, y, b, context).ToScalar() * x.Length;
                count += x.Length;
            }
            int tail = val.Length - 1 - rows * context;
            if (tail > 0)
            {
                var x = val.AsSpan(rows * context, tail).ToArray();
                var y = val.AsSpan(rows * context + 1, tail).ToArray();
                using var scope = new TensorScope();
                total += (double)model.Loss(x, y, 1, tail).ToScalar() * tail;
                count += tail;
            }
        }
        model.Train();
        return total / count;
    }

    private static double Ms(long from, long to) => Stopwatch.GetElapsedTime(from, to).TotalMilliseconds;

    internal static double Median(IEnumerable<double> values)
    {
        var v = values.Order().ToArray();
        if (v.Length == 0) return double.NaN;
        return v.Length % 2 == 1 ? v[v.Length / 2] : 0.5 * (v[v.Length / 2 - 1] + v[v.Length / 2]);
    }
}
