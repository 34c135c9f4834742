using System.Diagnostics;
using Loom.Tensors;
using Loom.Tensors.Quant;

namespace Loom.Bench;

/// <summary>One measured quantized matmul: weight type, shape, tokens, threads, median time and rates.</summary>
public sealed record QuantBenchResult(GgmlType Type, int Rows, int Cols, int Tokens, int Threads, double Milliseconds, long WeightBytes)
{
    /// <summary>ggml's median for the same case in the same run (its CPU backend's mul_mat), when the peer is built.</summary>
    public double? GgmlMilliseconds { get; init; }

    /// <summary>Loom speed / ggml speed (above 1: Loom is faster).</summary>
    public double? Ratio => GgmlMilliseconds is > 0 ? GgmlMilliseconds / Milliseconds : null;

    /// <summary>Weight bytes streamed per second (the memory-bound figure for decode).</summary>
    public double GBytesPerSecond => WeightBytes / (Milliseconds * 1e-3) / 1e9;

    /// <summary>2 * rows * cols * tokens per second.</summary>
    public double Gflops => 2.0 * Rows * Cols * Tokens / (Milliseconds * 1e-3) / 1e9;
}

/// <summary>
/// Throughput of <see cref="QuantMatrix.MatMul"/>: a random (rows x cols) matrix quantized to each type, multiplied
/// by T random activation rows (T = 1 is decode, a memory-bound GEMV; larger T is prompt processing).
/// Warm-up, then the median of several repetitions.
/// </summary>
public static class QuantBenchmark
{
    /// <summary>Runs every type x tokens x threads combination; <paramref name="progress"/> gets one line per result.</summary>
    public static List<QuantBenchResult> Run(IReadOnlyList<GgmlType> types, int rows, int cols, IReadOnlyList<int> tokenCounts,
        IReadOnlyList<int> threadCounts, bool quick, Action<string>? progress = null)
    {
        int saved = ComputePool.Threads;
        var peer = GgmlQuantPeer.Find();
        var results = new List<QuantBenchResult>();
        var rng = new Random(42);
        var w = new float[(long)rows * cols];
        for (long i = 0; i < w.Length; i++) w[i] = (float)(rng.NextDouble() * 2 - 1) * 0.05f;
        int maxTokens = tokenCounts.Max();
        var x = new float[(long)maxTokens * cols];
        for (long i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        var y = new float[(long)maxTokens * rows];
        try
        {
            foreach (var type in types)
            {
                long rowBytes = GgmlTypeLayout.RowBytes(type, cols);
                var encoded = new byte[rowBytes * rows];
                ComputePool.For(rows, (r0, r1) =>
                {
                    for (int r = r0; r < r1; r++)
                        QuantRows.Quantize(type, w.AsSpan(r * cols, cols), encoded.AsSpan((int)(r * rowBytes), (int)rowBytes));
                }, 64);
                var m = QuantMatrix.FromBytes(type, rows, cols, encoded);
                foreach (int tokens in tokenCounts)
                    foreach (int threads in threadCounts)
                    {
                        ComputePool.SetThreads(threads);
                        double work = 2.0 * rows * cols * tokens;
                        int reps = Math.Clamp((int)((quick ? 2e9 : 1e10) / Math.Max(work, 1) ), 3, quick ? 20 : 60);
                        m.MatMul(x, tokens, y); // warm-up
                        var times = new double[reps];
                        for (int i = 0; i < reps; i++)
                        {
                            long t0 = Stopwatch.GetTimestamp();
                            m.MatMul(x, tokens, y);
                            times[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                        }
                        Array.Sort(times);
                        var res = new QuantBenchResult(type, rows, cols, tokens, threads, times[reps / 2], encoded.LongLength)
                        {
                            GgmlMilliseconds = peer?.Measure(type, rows, cols, tokens, threads, reps),
                        };
                        results.Add(res);
                        progress?.Invoke($"{type,-5} {rows}x{cols} T={tokens,-4} threads={threads}: {res.Milliseconds,8:F3} ms  {res.GBytesPerSecond,6:F1} GB/s  {res.Gflops,7:F1} GFLOP/s" + (res.Ratio is { } q ? $"  ggml {res.GgmlMilliseconds,8:F3} ms  Loom/ggml speed {q:F2}" : ""));
                    }
            }
        }
        finally
        {
            ComputePool.SetThreads(saved);
        }
        return results;
    }
}

/// <summary>
/// ggml's own matmul timing through tools/llamacpp/build/quant_bench (built by tools/llamacpp/build_quant_bench.sh
/// from quant_bench.c against the npm llama.cpp libraries). Absent when not built; the benchmark then runs Loom only.
/// </summary>
public sealed class GgmlQuantPeer
{
    private readonly string _exe, _bins;

    private GgmlQuantPeer(string exe, string bins) { _exe = exe; _bins = bins; }

    /// <summary>The peer, or null when the program or the llama.cpp libraries are not there.</summary>
    public static GgmlQuantPeer? Find()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "Loom.sln"))) dir = dir.Parent;
        if (dir == null) return null;
        string tools = Path.Combine(dir.FullName, "tools", "llamacpp");
        string exe = Path.Combine(tools, "build", "quant_bench");
        string bins = Path.Combine(tools, "node_modules", "@node-llama-cpp", "linux-x64", "bins", "linux-x64");
        return File.Exists(exe) && Directory.Exists(bins) ? new GgmlQuantPeer(exe, bins) : null;
    }

    /// <summary>ggml's median wall-clock milliseconds for one case, or null if the run failed.</summary>
    public double? Measure(GgmlType type, int rows, int cols, int tokens, int threads, int reps)
    {
        var psi = new ProcessStartInfo(_exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { _bins, rows.ToString(), cols.ToString(), type.ToString(), tokens.ToString(), threads.ToString(), reps.ToString() })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi);
        if (p == null) return null;
        string output = p.StandardOutput.ReadToEnd();
        p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) return null;
        // "TYPE rows cols tokens threads median_wall_ms min_thread_cpu_ms"
        var parts = output.Trim().Split(' ');
        return parts.Length >= 6 && double.TryParse(parts[5], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double ms) ? ms : null;
    }
}
