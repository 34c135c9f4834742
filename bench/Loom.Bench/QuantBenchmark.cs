using System.Diagnostics;
using Loom.Tensors;
using Loom.Tensors.Quant;

namespace Loom.Bench;

/// <summary>One measured quantized matmul: weight type, shape, tokens, threads, median time and rates.</summary>
public sealed record QuantBenchResult(GgmlType Type, int Rows, int Cols, int Tokens, int Threads, double Milliseconds, long WeightBytes)
{
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
                        var res = new QuantBenchResult(type, rows, cols, tokens, threads, times[reps / 2], encoded.LongLength);
                        results.Add(res);
                        progress?.Invoke($"{type,-5} {rows}x{cols} T={tokens,-4} threads={threads}: {res.Milliseconds,8:F3} ms  {res.GBytesPerSecond,6:F1} GB/s  {res.Gflops,7:F1} GFLOP/s");
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
