using System.Diagnostics;
using System.Runtime.InteropServices;
using Loom.Tensors;
using Loom.Tensors.Kernels;

namespace Loom.Bench;

/// <summary>One GEMM shape, in BLAS order: C (M x N) = A (M x K) * B (K x N).</summary>
public readonly record struct GemmShape(int M, int K, int N)
{
    public double Flops => 2.0 * M * K * N;

    public override string ToString() => M == K && K == N ? $"{M}" : $"{M}x{K}x{N}";

    /// <summary>Parses "1024" (a square) or "4096x768x3072" (M x K x N).</summary>
    public static GemmShape Parse(string s)
    {
        var parts = s.Trim().ToLowerInvariant().Split('x');
        var v = parts.Select(p => int.TryParse(p, out int x) && x > 0 ? x : throw new FormatException($"bad GEMM size '{s}': use N or MxKxN")).ToArray();
        return v.Length switch
        {
            1 => new GemmShape(v[0], v[0], v[0]),
            3 => new GemmShape(v[0], v[1], v[2]),
            _ => throw new FormatException($"bad GEMM size '{s}': use N or MxKxN"),
        };
    }
}

/// <summary>Median throughput of Loom and of the peer (null when absent) for one shape and thread count.</summary>
public sealed record GemmBenchResult(GemmShape Shape, int Threads, double LoomGflops, double? OpenBlasGflops)
{
    public double? Ratio => OpenBlasGflops is > 0 ? LoomGflops / OpenBlasGflops : null;
}

/// <summary>
/// SGEMM throughput of Loom against OpenBLAS in the same process and run, so machine noise hits both alike:
/// warm-up, then alternating rounds of each library, median of all repetitions.
/// </summary>
public static unsafe class GemmBenchmark
{
    public static readonly GemmShape[] DefaultShapes =
    [
        new(256, 256, 256), new(512, 512, 512), new(1024, 1024, 1024), new(2048, 2048, 2048), new(4096, 4096, 4096),
        new(4096, 768, 3072), new(512, 2048, 8192), new(1, 2048, 8192),
    ];

    /// <summary>Runs every shape at every thread count; <paramref name="progress"/> gets one line per step.</summary>
    public static List<GemmBenchResult> Run(IReadOnlyList<GemmShape> shapes, IReadOnlyList<int> threadCounts, bool quick,
        Action<string>? progress = null)
    {
        var peer = OpenBlas.Instance;
        int savedThreads = ComputePool.Threads;
        var results = new List<GemmBenchResult>();
        try
        {
            foreach (var shape in shapes)
            {
                using var mats = new Matrices(shape);
                foreach (int t in threadCounts)
                {
                    var r = RunOne(mats, shape, t, quick, peer);
                    progress?.Invoke($"{shape} threads={t}: loom {r.LoomGflops:F1} GFLOP/s, openblas {(r.OpenBlasGflops is { } o ? o.ToString("F1") : "-")}");
                    results.Add(r);
                }
            }
        }
        finally
        {
            ComputePool.SetThreads(savedThreads);
        }
        return results;
    }

    private static GemmBenchResult RunOne(Matrices mats, GemmShape s, int threads, bool quick, OpenBlas? peer)
    {
        ComputePool.SetThreads(threads);
        peer?.SetThreads(threads);
        var loom = new Runner(() => Gemm.Sgemm(false, false, s.M, s.N, s.K, 1f, mats.A, s.K, mats.B, s.N, 0f, mats.C, s.N));
        Runner? blas = peer is null ? null
            : new Runner(() => peer.Sgemm(false, false, s.M, s.N, s.K, 1f, mats.A, s.K, mats.B, s.N, 0f, mats.C2, s.N));

        // Warm-up: JIT tiering (tier-1 code arrives after ~30 calls), page faults of pooled buffers, OpenBLAS
        // thread start-up. The last warm-up call sizes the repetitions.
        double warm = WarmUp(loom, quick);
        if (blas != null)
        {
            warm = Math.Max(warm, WarmUp(blas, quick));
            CheckAgreement(mats, s);
            Thread.Sleep(150);
        }
        double budget = quick ? 0.15 : 0.8; // seconds of measurement per library and round
        int perRound = Math.Clamp((int)(budget / Math.Max(warm, 1e-6)), 1, quick ? 5 : 20);
        int rounds = quick ? 1 : 3;
        for (int r = 0; r < rounds; r++)
        {
            loom.Repeat(Math.Max(perRound, quick ? 2 : 1));
            if (blas != null)
            {
                blas.Repeat(Math.Max(perRound, quick ? 2 : 1));
                // OpenBLAS workers spin (about 2^28 cycles) after a call; let them park before timing Loom again.
                Thread.Sleep(150);
            }
        }
        return new GemmBenchResult(s, threads, s.Flops / loom.Median / 1e9, blas is null ? null : s.Flops / blas.Median / 1e9);
    }

    private static double WarmUp(Runner r, bool quick)
    {
        double budget = quick ? 0.1 : 0.3, total = 0, last = 0;
        for (int i = 0; i < 40 && (i < 2 || total < budget); i++)
        {
            last = r.Time();
            total += last;
        }
        return last;
    }

    /// <summary>Sanity check that both libraries computed the same product (a wrong fast kernel is no result).</summary>
    private static void CheckAgreement(Matrices mats, GemmShape s)
    {
        long len = (long)s.M * s.N;
        double maxErr = 0;
        for (long i = 0; i < len; i += 97) maxErr = Math.Max(maxErr, Math.Abs(mats.C[i] - mats.C2[i]));
        // Entries are sums of K products of values in [-1, 1): rounding differences grow like sqrt(K).
        if (maxErr > 1e-4 * Math.Sqrt(s.K) + 1e-5)
            throw new InvalidOperationException($"Loom and OpenBLAS disagree on {s}: max |diff| = {maxErr}");
    }

    private sealed class Runner(Action run)
    {
        private readonly List<double> _samples = [];

        public double Median
        {
            get
            {
                _samples.Sort();
                int n = _samples.Count;
                return n % 2 == 1 ? _samples[n / 2] : 0.5 * (_samples[n / 2 - 1] + _samples[n / 2]);
            }
        }

        public double Time()
        {
            long t0 = Stopwatch.GetTimestamp();
            run();
            return Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }

        public void Repeat(int n)
        {
            for (int i = 0; i < n; i++) _samples.Add(Time());
        }
    }

    /// <summary>A, B and two C buffers (Loom's and the peer's), 64-byte aligned, filled with values in [-1, 1).</summary>
    private sealed class Matrices : IDisposable
    {
        public readonly float* A, B, C, C2;
        private readonly long _lenC;

        public Matrices(GemmShape s)
        {
            A = Alloc((long)s.M * s.K);
            B = Alloc((long)s.K * s.N);
            _lenC = (long)s.M * s.N;
            C = Alloc(_lenC);
            C2 = Alloc(_lenC);
            var rng = new Random(42);
            Fill(rng, A, (long)s.M * s.K);
            Fill(rng, B, (long)s.K * s.N);
            new Span<float>(C, (int)Math.Min(_lenC, int.MaxValue)).Clear();
            new Span<float>(C2, (int)Math.Min(_lenC, int.MaxValue)).Clear();
        }

        private static float* Alloc(long n) => (float*)NativeMemory.AlignedAlloc((nuint)(n * sizeof(float)), 64);

        private static void Fill(Random rng, float* p, long n)
        {
            for (long i = 0; i < n; i++) p[i] = (float)(rng.NextDouble() * 2 - 1);
        }

        public void Dispose()
        {
            NativeMemory.AlignedFree(A);
            NativeMemory.AlignedFree(B);
            NativeMemory.AlignedFree(C);
            NativeMemory.AlignedFree(C2);
        }
    }
}
