using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Loom.Models.Inference;

namespace Loom.Bench;

/// <summary>Tokens per second of prompt processing and of generation, one engine.</summary>
public readonly record struct DecodeSpeed(double PromptTokensPerS, double GenTokensPerS);

/// <summary>
/// `loom bench decode`: prompt processing (one batch of N tokens, logits of the last) and generation (M tokens fed
/// back one at a time after a 4-token prompt), median of several runs after one warm-up, as llama-bench measures
/// pp and tg. The same token ids drive Loom and llama.cpp.
/// </summary>
public static class DecodeBenchmark
{
    /// <summary>Length of the prompt that precedes the generated tokens.</summary>
    public const int ShortPrompt = 4;

    /// <summary>Measures a Loom model: its cache must hold max(prompt, 4 + gen) tokens in slot 0.</summary>
    public static DecodeSpeed RunLoom(IBatchedLm lm, int promptTokens, int genTokens, int reps)
    {
        if (promptTokens < 1 || genTokens < 1 || reps < 1) throw new ArgumentOutOfRangeException(nameof(reps), "token counts and repetitions must be positive");
        if (lm.ContextLength < Math.Max(promptTokens, ShortPrompt + genTokens))
            throw new ArgumentException($"the model's context ({lm.ContextLength}) is shorter than the benchmark needs ({Math.Max(promptTokens, ShortPrompt + genTokens)})");
        var tokens = LlamaCpp.BenchTokens(promptTokens, lm.VocabSize);
        var logits = new float[lm.VocabSize];
        var next = new int[1];
        var ppRates = new double[reps];
        var tgRates = new double[reps];
        for (int r = -1; r < reps; r++)
        {
            lm.TruncateSlot(0, 0);
            long t0 = Stopwatch.GetTimestamp();
            lm.Forward([new BatchRow(0, tokens)], logits);
            double ppSeconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;

            lm.TruncateSlot(0, 0);
            lm.Forward([new BatchRow(0, tokens.AsMemory(0, ShortPrompt))], logits);
            next[0] = ArgMax(logits);
            t0 = Stopwatch.GetTimestamp();
            for (int g = 0; g < genTokens; g++)
            {
                lm.Forward([new BatchRow(0, next)], logits);
                next[0] = ArgMax(logits);
            }
            double tgSeconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            if (r >= 0)
            {
                ppRates[r] = promptTokens / ppSeconds;
                tgRates[r] = genTokens / tgSeconds;
            }
        }
        lm.TruncateSlot(0, 0);
        return new DecodeSpeed(LlamaCpp.Median(ppRates), LlamaCpp.Median(tgRates));
    }

    /// <summary>STREAM-triad bandwidth (a[i] = b[i] + s * c[i] over three 64 MiB double arrays, 24 bytes per element moved), best of 5, in GB/s.</summary>
    public static double TriadGBps(int threads)
    {
        const int n = 8 << 20;
        var a = GC.AllocateUninitializedArray<double>(n, pinned: true);
        var b = GC.AllocateUninitializedArray<double>(n, pinned: true);
        var c = GC.AllocateUninitializedArray<double>(n, pinned: true);
        Array.Fill(a, 0.0);
        Array.Fill(b, 1.0);
        Array.Fill(c, 2.0);
        double best = 0;
        var options = new ParallelOptions { MaxDegreeOfParallelism = threads };
        for (int rep = 0; rep < 6; rep++)
        {
            long t0 = Stopwatch.GetTimestamp();
            Parallel.For(0, threads, options, part =>
            {
                int start = (int)((long)n * part / threads), end = (int)((long)n * (part + 1) / threads);
                Triad(a.AsSpan(start, end - start), b.AsSpan(start, end - start), c.AsSpan(start, end - start), 3.0);
            });
            double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            if (rep > 0) best = Math.Max(best, 3.0 * n * sizeof(double) / seconds / 1e9);
        }
        GC.KeepAlive(a);
        return best;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Triad(Span<double> a, ReadOnlySpan<double> b, ReadOnlySpan<double> c, double s)
    {
        int i = 0, n = a.Length;
        var sv = new Vector<double>(s);
        ref double ra = ref MemoryMarshal.GetReference(a);
        ref double rb = ref MemoryMarshal.GetReference(b);
        ref double rc = ref MemoryMarshal.GetReference(c);
        for (; i + Vector<double>.Count <= n; i += Vector<double>.Count)
            Vector.StoreUnsafe(Vector.LoadUnsafe(ref rb, (nuint)i) + sv * Vector.LoadUnsafe(ref rc, (nuint)i), ref ra, (nuint)i);
        for (; i < n; i++) a[i] = b[i] + s * c[i];
    }

    private static int ArgMax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int i = 1; i < row.Length; i++)
            if (row[i] > row[best]) best = i;
        return best;
    }
}
