using System.Diagnostics;
using System.Globalization;
using Loom.Formats;
using Loom.Models.Llama;
using Loom.Nn;
using Loom.Tensors;
using Loom.Text;
using Loom.Training.Data;
using Loom.Training.Metrics;

namespace Loom.Training.Lm;

/// <summary>One line of training progress, for the progress bar and the metrics log.</summary>
public sealed record LmProgress(int Step, int Steps, double Loss, double Lr, double TokensPerSecond, double? ValLoss, TimeSpan Elapsed, TimeSpan Eta);

/// <summary>
/// The language-model training loop, plain code as in nanoGPT: sample a batch, forward, backward (with
/// gradient accumulation), clip, AdamW with warm-up + cosine, periodic validation, atomic checkpoints that a
/// resumed run continues from exactly (model, optimizer moments, step, data RNG).
/// </summary>
public sealed class LmTrainer
{
    public const string CheckpointDir = "checkpoints";

    private readonly string _out;
    private readonly LmRunConfig _cfg;
    private readonly BpeTokenizer _tok;
    private readonly int[] _train, _val;

    public LmTrainer(string outDir, LmRunConfig config, BpeTokenizer tokenizer, int[] train, int[] val)
    {
        if (tokenizer.VocabSize > config.Model.VocabSize)
            throw new ArgumentException($"the tokenizer has {tokenizer.VocabSize} tokens but the model's vocab_size is {config.Model.VocabSize}");
        int window = config.Training.Context + 1;
        if (train.Length < window) throw new ArgumentException($"the training data has {train.Length} tokens, fewer than one window of {window}");
        if (val.Length < window) throw new ArgumentException($"the validation data has {val.Length} tokens, fewer than one window of {window}");
        _out = outDir;
        _cfg = config;
        _tok = tokenizer;
        _train = train;
        _val = val;
    }

    /// <summary>Trains until the configured step count or until <paramref name="ct"/> fires (then checkpoints and returns).</summary>
    public LlamaModel Run(bool resume, Action<LmProgress>? onProgress, CancellationToken ct)
    {
        var o = _cfg.Training;
        Directory.CreateDirectory(_out);
        Directory.CreateDirectory(Path.Combine(_out, CheckpointDir));
        LlamaModel model;
        using (TensorScope.Suspend()) model = new LlamaModel(_cfg.Model, new Rng(o.Seed));
        var decay = model.NamedParameters().Where(p => p.Parameter.Rank < 2).Select(p => p.Name).ToList();   // norms: no decay
        var opt = new AdamW(model, o.Lr, o.Beta1, o.Beta2, 1e-8, o.WeightDecay, decay);
        var sampler = new BatchSampler(_train, o.Batch, o.Context, o.Seed + 1);
        var ckpt = new TrainingCheckpoint(model, opt);
        ckpt.Rngs["data"] = sampler.Rng;
        int step = 0;
        string metricsPath = Path.Combine(_out, "metrics.jsonl");
        if (resume)
        {
            var latest = LatestCheckpoint();
            if (latest == null) throw new InvalidOperationException($"--resume: no checkpoint in {Path.Combine(_out, CheckpointDir)}");
            ckpt.Load(latest);
            step = (int)ckpt.Step;
            TruncateMetrics(metricsPath, step);
        }
        else if (File.Exists(metricsPath)) File.Delete(metricsPath);
        using var log = new MetricsLog(metricsPath, append: resume);
        var schedule = new LrSchedule(o.Lr, Math.Min(o.Warmup, o.Steps), o.Steps, o.MinLr);
        var inputs = new int[o.Batch * o.Context];
        var targets = new int[o.Batch * o.Context];
        int startStep = step;
        var sw = Stopwatch.StartNew();
        long tokensSinceStart = 0;
        double? lastVal = null;
        while (step < o.Steps)
        {
            if (ct.IsCancellationRequested) break;
            double lr = schedule.At(step);
            opt.LearningRate = lr;
            double lossSum = 0;
            model.Train();
            for (int micro = 0; micro < o.GradAccum; micro++)
            {
                sampler.Next(inputs, targets);
                using var scope = new TensorScope();
                var loss = model.Loss(inputs, targets, o.Batch, o.Context);
                lossSum += loss.ToScalar();
                var scaled = o.GradAccum == 1 ? loss : F.Scale(loss, 1f / o.GradAccum);
                Autograd.Backward(scaled);
            }
            double norm = GradClip.ClipGradNorm(model.Parameters(), o.GradClip);
            opt.Step();
            opt.ZeroGrad();
            step++;
            tokensSinceStart += (long)o.Batch * o.Context * o.GradAccum;
            double loss1 = lossSum / o.GradAccum;
            if (!double.IsFinite(loss1)) throw new InvalidOperationException($"loss became {loss1} at step {step}; lower the learning rate (lr {lr:g3}) or check the data");
            bool evalNow = step % o.EvalEvery == 0 || step == o.Steps;
            if (evalNow) lastVal = Evaluate(model, _val, o.Batch, o.Context, o.EvalBatches, o.Seed + 2);
            double tps = tokensSinceStart / Math.Max(sw.Elapsed.TotalSeconds, 1e-9);
            var eta = TimeSpan.FromSeconds((o.Steps - step) * (sw.Elapsed.TotalSeconds / Math.Max(1, step - startStep)));
            var rec = new Dictionary<string, object>
            {
                ["step"] = step, ["loss"] = Math.Round(loss1, 5), ["lr"] = lr, ["grad_norm"] = Math.Round(norm, 4),
                ["tokens_per_s"] = Math.Round(tps, 1), ["elapsed_s"] = Math.Round(sw.Elapsed.TotalSeconds, 2),
            };
            if (evalNow && lastVal is double v) rec["val_loss"] = Math.Round(v, 5);
            log.Write(rec);
            onProgress?.Invoke(new LmProgress(step, o.Steps, loss1, lr, tps, evalNow ? lastVal : null, sw.Elapsed, eta));
            if (step % o.CheckpointEvery == 0 || step == o.Steps) SaveCheckpoint(ckpt, step);
        }
        if (step < o.Steps) SaveCheckpoint(ckpt, step);   // interrupted: keep what was done
        WritePlot(metricsPath);
        if (step == o.Steps) ModelFolder.Save(_out, model, _tok, new Dictionary<string, string> { ["steps"] = step.ToString(CultureInfo.InvariantCulture) });
        return model;
    }

    private void SaveCheckpoint(TrainingCheckpoint ckpt, int step)
    {
        ckpt.Step = step;
        string dir = Path.Combine(_out, CheckpointDir);
        ckpt.Save(Path.Combine(dir, $"step-{step:D7}.safetensors"));
        var all = Directory.GetFiles(dir, "step-*.safetensors").Order(StringComparer.Ordinal).ToList();
        for (int i = 0; i < all.Count - Math.Max(1, _cfg.Training.KeepCheckpoints); i++) File.Delete(all[i]);
    }

    private string? LatestCheckpoint()
    {
        string dir = Path.Combine(_out, CheckpointDir);
        return Directory.Exists(dir) ? Directory.GetFiles(dir, "step-*.safetensors").Order(StringComparer.Ordinal).LastOrDefault() : null;
    }

    /// <summary>Drops log lines after the checkpointed step, so a resumed curve continues without duplicates.</summary>
    private static void TruncateMetrics(string path, int step)
    {
        if (!File.Exists(path)) return;
        var keep = File.ReadAllLines(path).Where(l =>
        {
            try { return System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("step").GetInt32() <= step; }
            catch (Exception e) when (e is System.Text.Json.JsonException or KeyNotFoundException or InvalidOperationException) { return false; }
        }).ToArray();
        AtomicFile.Write(path, s => { using var w = new StreamWriter(s, leaveOpen: true); foreach (var l in keep) w.WriteLine(l); });
    }

    private void WritePlot(string metricsPath)
    {
        var recs = MetricsLog.Read(metricsPath);
        var train = recs.Where(r => r.ContainsKey("loss")).Select(r => ((double)r["step"].GetInt32(), r["loss"].GetDouble())).ToList();
        var val = recs.Where(r => r.ContainsKey("val_loss")).Select(r => ((double)r["step"].GetInt32(), r["val_loss"].GetDouble())).ToList();
        LossPlot.WriteSvg(Path.Combine(_out, "loss.svg"), "loss (nats/token)", [("train", "#1f77b4", train), ("validation", "#d62728", val)]);
    }

    /// <summary>Mean loss over fixed validation batches (the same batches every time, for comparable curves).</summary>
    public static double Evaluate(LlamaModel model, int[] val, int batch, int context, int batches, ulong seed)
    {
        model.Eval();
        var s = new BatchSampler(val, batch, context, seed);
        var x = new int[batch * context];
        var y = new int[batch * context];
        double sum = 0;
        using (Autograd.NoGrad())
        {
            for (int i = 0; i < batches; i++)
            {
                s.Next(x, y);
                using var scope = new TensorScope();
                sum += model.Loss(x, y, batch, context).ToScalar();
            }
        }
        model.Train();
        return sum / batches;
    }
}
