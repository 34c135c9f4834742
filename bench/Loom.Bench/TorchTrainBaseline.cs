using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Loom.Bench;

/// <summary>PyTorch's side of a training benchmark at one thread count (null fields: not reported).</summary>
public sealed record TorchTrainResult(int Threads, double TokensPerSecond, double? MeanTokensPerSecond, double FirstLoss, double LastLoss,
    double? ValLoss, string? TorchVersion, long? Parameters)
{
    /// <summary>Median milliseconds per timed step in each phase (same phases as Loom's).</summary>
    public TrainPhaseProfile? Phases { get; init; }

    /// <summary>With --profile: the autograd profiler's top ops, self milliseconds and calls per step.</summary>
    public IReadOnlyList<(string Op, double SelfMs, long Count)>? Ops { get; init; }
}

/// <summary>
/// Runs tools/bench/train_torch.py (embedded in this assembly) with Debian's PyTorch, one process per thread
/// count, in its best CPU setting: OPENBLAS_THREAD_TIMEOUT=4, GOMP_SPINCOUNT=0, large glibc malloc thresholds,
/// OMP/OpenBLAS threads = the count, and OPENBLAS_CORETYPE=SkylakeX only when the CPU has AVX-512 (forcing
/// those kernels on a CPU without it crashes; otherwise the variable is removed).
/// </summary>
public static class TorchTrainBaseline
{
    public const string Python = "/usr/bin/python3";

    /// <summary>Whether the Python that has PyTorch is present.</summary>
    public static bool Available => File.Exists(Python);

    /// <summary>True when /proc/cpuinfo lists avx512f.</summary>
    public static bool CpuHasAvx512()
    {
        try
        {
            return File.Exists("/proc/cpuinfo") && File.ReadLines("/proc/cpuinfo")
                .Any(l => l.StartsWith("flags", StringComparison.Ordinal) && l.Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains("avx512f"));
        }
        catch (IOException) { return false; }
    }

    /// <summary>The environment the script runs in, for the given thread count.</summary>
    public static IReadOnlyDictionary<string, string?> Environment(int threads)
    {
        string n = threads.ToString(CultureInfo.InvariantCulture);
        return new Dictionary<string, string?>
        {
            ["OMP_NUM_THREADS"] = n,
            ["OPENBLAS_NUM_THREADS"] = n,
            ["MKL_NUM_THREADS"] = n,
            ["OPENBLAS_THREAD_TIMEOUT"] = "4",
            ["GOMP_SPINCOUNT"] = "0",
            ["GLIBC_TUNABLES"] = "glibc.malloc.trim_threshold=4294967296:glibc.malloc.mmap_threshold=33554432",
            ["OPENBLAS_CORETYPE"] = CpuHasAvx512() ? "SkylakeX" : null,
        };
    }

    /// <summary>Trains the same model in PyTorch at <paramref name="threads"/> threads; throws with the script's stderr if it fails.</summary>
    public static TorchTrainResult Run(TrainBenchOptions o, string dataPath, int threads, CancellationToken ct = default)
    {
        var p = o.Preset;
        string script = Path.Combine(Path.GetTempPath(), $"loom-train-torch-{System.Environment.ProcessId}.py");
        using (var res = typeof(TorchTrainBaseline).Assembly.GetManifestResourceStream("train_torch.py")
                         ?? throw new InvalidOperationException("train_torch.py is not embedded in Loom.Bench"))
        using (var f = File.Create(script))
            res.CopyTo(f);
        try
        {
            var psi = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            string I(double v) => v.ToString("R", CultureInfo.InvariantCulture);
            foreach (var a in new[]
                     {
                         script, "--data", dataPath, "--layers", $"{p.Layers}", "--heads", $"{p.Heads}", "--dim", $"{p.Dim}", "--ffn", $"{p.FfnDim}",
                         "--context", $"{p.Context}", "--batch", $"{p.Batch}", "--warmup", $"{o.Warmup}", "--steps", $"{o.Steps}",
                         "--threads", $"{threads}", "--seed", $"{o.Seed}", "--lr", I(o.Lr), "--min-lr", I(o.MinLr), "--lr-warmup", $"{o.LrWarmup}",
                         "--beta1", I(o.Beta1), "--beta2", I(o.Beta2), "--weight-decay", I(o.WeightDecay), "--grad-clip", I(o.GradClip),
                     })
                psi.ArgumentList.Add(a);
            if (o.Schedule) psi.ArgumentList.Add("--schedule");
            if (o.Eval) psi.ArgumentList.Add("--eval");
            if (o.Profile) psi.ArgumentList.Add("--profile");
            foreach (var (k, v) in Environment(threads))
            {
                if (v is null) psi.Environment.Remove(k);
                else psi.Environment[k] = v;
            }
            using var proc = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {Python}");
            var stderr = proc.StandardError.ReadToEndAsync(ct);
            var stdout = proc.StandardOutput.ReadToEndAsync(ct);
            try { proc.WaitForExitAsync(ct).GetAwaiter().GetResult(); }
            catch (OperationCanceledException)
            {
                proc.Kill(entireProcessTree: true);
                throw;
            }
            string output = stdout.GetAwaiter().GetResult(), errors = stderr.GetAwaiter().GetResult();
            if (proc.ExitCode != 0)
            {
                var last = errors.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "";
                throw new InvalidOperationException($"PyTorch baseline failed (exit {proc.ExitCode}): {last}");
            }
            return Parse(output);
        }
        finally
        {
            File.Delete(script);
        }
    }

    /// <summary>Reads the script's one-line JSON result.</summary>
    public static TorchTrainResult Parse(string json)
    {
        var line = json.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault()
                   ?? throw new InvalidOperationException("PyTorch baseline printed nothing");
        using var doc = JsonDocument.Parse(line);
        var r = doc.RootElement;
        double? Opt(string name) => r.TryGetProperty(name, out var e) && e.ValueKind == JsonValueKind.Number ? e.GetDouble() : null;
        TrainPhaseProfile? phases = null;
        if (r.TryGetProperty("phases", out var ph) && ph.ValueKind == JsonValueKind.Object)
            phases = new TrainPhaseProfile(ph.GetProperty("data_ms").GetDouble(), ph.GetProperty("forward_ms").GetDouble(), ph.GetProperty("backward_ms").GetDouble(),
                ph.GetProperty("clip_ms").GetDouble(), ph.GetProperty("optimizer_ms").GetDouble());
        List<(string, double, long)>? ops = null;
        if (r.TryGetProperty("ops", out var os) && os.ValueKind == JsonValueKind.Array)
            ops = os.EnumerateArray().Select(e => (e.GetProperty("op").GetString() ?? "?", e.GetProperty("self_ms").GetDouble(), e.GetProperty("count").GetInt64())).ToList();
        return new TorchTrainResult(r.GetProperty("threads").GetInt32(), r.GetProperty("tokens_per_s").GetDouble(), Opt("mean_tokens_per_s"),
            r.GetProperty("first_loss").GetDouble(), r.GetProperty("last_loss").GetDouble(), Opt("val_loss"),
            r.TryGetProperty("torch_version", out var v) ? v.GetString() : null, (long?)Opt("params"))
        {
            Phases = phases, Ops = ops,
        };
    }
}
