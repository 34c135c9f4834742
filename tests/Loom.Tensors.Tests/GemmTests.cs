using Loom.Tensors.Kernels;

namespace Loom.Tensors.Tests;

/// <summary>
/// Sgemm against a double-precision triple loop. Tolerance: |C - ref| &lt;= 1e-5 * (sum_p |alpha a_ip b_pj| +
/// |beta c_ij|) + 1e-6, i.e. relative to the magnitude that float rounding of the sum can actually reach.
/// </summary>
public unsafe class GemmTests
{
    private const double RelTol = 1e-5;

    /// <summary>One problem with padded leading dimensions and C pre-filled (NaN when beta = 0).</summary>
    private sealed class Case
    {
        public bool TA, TB;
        public int M, N, K, Lda, Ldb, Ldc;
        public float Alpha, Beta;
        public float[] A = [], B = [], C0 = [];

        public static Case Make(Random rng, int m, int n, int k, bool ta, bool tb, float alpha, float beta, int pad)
        {
            var cs = new Case { TA = ta, TB = tb, M = m, N = n, K = k, Alpha = alpha, Beta = beta };
            int aRows = ta ? k : m, aCols = ta ? m : k, bRows = tb ? n : k, bCols = tb ? k : n;
            cs.Lda = aCols + pad; cs.Ldb = bCols + 2 * pad; cs.Ldc = n + 3 * pad;
            cs.A = Fill(rng, Math.Max(1, aRows * cs.Lda));
            cs.B = Fill(rng, Math.Max(1, bRows * cs.Ldb));
            cs.C0 = Fill(rng, Math.Max(1, m * cs.Ldc));
            if (beta == 0f) Array.Fill(cs.C0, float.NaN);
            return cs;
        }

        private static float[] Fill(Random rng, int len)
        {
            var x = new float[len];
            for (int i = 0; i < len; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
            return x;
        }

        public float[] Run(GemmKernelKind kind, int threads)
        {
            var c = (float[])C0.Clone();
            fixed (float* pa = A, pb = B, pc = c)
                Gemm.Sgemm(kind, threads, TA, TB, M, N, K, Alpha, pa, Lda, pb, Ldb, Beta, pc, Ldc);
            return c;
        }

        public void Check(float[] c, string what)
        {
            for (int i = 0; i < M; i++)
            {
                for (int j = 0; j < N; j++)
                {
                    double sum = 0, mag = 0;
                    for (int p = 0; p < K; p++)
                    {
                        double av = TA ? A[p * Lda + i] : A[i * Lda + p];
                        double bv = TB ? B[j * Ldb + p] : B[p * Ldb + j];
                        sum += av * bv;
                        mag += Math.Abs(av * bv);
                    }
                    double c0 = C0[i * Ldc + j];
                    double expect = Alpha * sum + (Beta == 0f ? 0 : Beta * c0);
                    double tol = RelTol * (Math.Abs(Alpha) * mag + (Beta == 0f ? 0 : Math.Abs(Beta * c0))) + 1e-6;
                    double got = c[i * Ldc + j];
                    if (!(Math.Abs(got - expect) <= tol))
                        Assert.Fail($"{what} {(TA ? "T" : "N")}{(TB ? "T" : "N")} m={M} n={N} k={K} alpha={Alpha} beta={Beta}: C[{i},{j}] = {got}, expected {expect} (tol {tol})");
                }
                // Padding between rows of C must be untouched.
                for (int j = N; j < Ldc && i * Ldc + j < C0.Length; j++)
                {
                    if (!c[i * Ldc + j].Equals(C0[i * Ldc + j])) Assert.Fail($"{what}: wrote C padding at [{i},{j}]");
                }
            }
        }
    }

    private static readonly int[] Sizes = [1, 7, 17, 63, 65, 127, 129, 300];
    private static readonly float[] Betas = [0f, 1f, 0.5f];

    /// <summary>Every size appears as M, N and K, against varied partners, in all four transpose combinations.</summary>
    private static IEnumerable<(int M, int N, int K)> Shapes()
    {
        foreach (int s in Sizes)
        {
            yield return (s, 33, 65);
            yield return (63, s, 17);
            yield return (65, 129, s);
        }
        yield return (300, 129, 127);
        yield return (17, 300, 300);
        // Wide enough (N >= 2 x 384) that two threads split column blocks instead of rows.
        yield return (13, 800, 40);
        yield return (33, 1100, 47);
    }

    private static void RunAll(GemmKernelKind kind, int threads, int seed, int maxMnk = int.MaxValue)
    {
        var rng = new Random(seed);
        int idx = 0;
        foreach (var (m, n, k) in Shapes())
        {
            if ((long)m * n * k > maxMnk) continue;
            for (int t = 0; t < 4; t++)
            {
                bool ta = (t & 1) != 0, tb = (t & 2) != 0;
                float beta = Betas[idx % 3];
                float alpha = idx % 2 == 0 ? 1f : -1.75f;
                var cs = Case.Make(rng, m, n, k, ta, tb, alpha, beta, pad: idx % 4 == 0 ? 0 : 1 + idx % 5);
                cs.Check(cs.Run(kind, threads), $"{kind}/{threads}t");
                idx++;
            }
        }
    }

    [Fact] public void AutoKernelOneThread() => RunAll(GemmKernelKind.Auto, 1, 1);
    [Fact] public void AutoKernelTwoThreads() => RunAll(GemmKernelKind.Auto, 2, 2);
    [Fact] public void Vector256KernelTwoThreads() => RunAll(GemmKernelKind.Vector256, 2, 3);
    [Fact] public void ScalarKernelTwoThreads() => RunAll(GemmKernelKind.Scalar, 2, 4, maxMnk: 2_000_000);

    /// <summary>
    /// The AVX-512 12x32 kernel, forced. On a machine without AVX-512 the portable Vector512 API runs it in
    /// software (slow, so shapes are capped), which still checks its tiling, packing and edge handling.
    /// </summary>
    [Fact] public void Vector512KernelForced() => RunAll(GemmKernelKind.Vector512, 2, 5, maxMnk: 700_000);

    /// <summary>The public entry point: the AVX-512 path where Vector512 is accelerated, otherwise the AVX2 one.</summary>
    [Fact]
    public void PublicSgemmUsesNativeKernel()
    {
        var rng = new Random(6);
        foreach (var (m, n, k) in new[] { (129, 300, 65), (300, 65, 129), (1, 300, 129), (129, 1, 300) })
        {
            for (int t = 0; t < 4; t++)
            {
                var cs = Case.Make(rng, m, n, k, (t & 1) != 0, (t & 2) != 0, 0.75f, 0.5f, pad: 3);
                var c = (float[])cs.C0.Clone();
                fixed (float* pa = cs.A, pb = cs.B, pc = c)
                    Gemm.Sgemm(cs.TA, cs.TB, m, n, k, cs.Alpha, pa, cs.Lda, pb, cs.Ldb, cs.Beta, pc, cs.Ldc);
                cs.Check(c, $"public ({Gemm.NativeKernel})");
            }
        }
    }

    /// <summary>M = 1 and N = 1 go to the GEMV kernels; big enough here that both threads take part.</summary>
    [Fact]
    public void MatrixVectorShapes()
    {
        var rng = new Random(7);
        int idx = 0;
        foreach (var (m, n, k) in new[] { (1, 1, 1), (1, 1, 300), (1, 2051, 67), (1, 37, 1500), (2051, 1, 67), (37, 1, 1500), (1, 129, 0) })
        {
            for (int t = 0; t < 4; t++, idx++)
            {
                var cs = Case.Make(rng, m, n, k, (t & 1) != 0, (t & 2) != 0, idx % 2 == 0 ? 1f : 1.5f, Betas[idx % 3], pad: idx % 3);
                cs.Check(cs.Run(GemmKernelKind.Auto, 2), "gemv");
            }
        }
    }

    [Fact]
    public void ZeroKScalesC()
    {
        var rng = new Random(8);
        foreach (float beta in Betas)
        {
            var cs = Case.Make(rng, 9, 13, 0, false, true, 1f, beta, pad: 2);
            cs.Check(cs.Run(GemmKernelKind.Auto, 2), "k=0");
        }
    }

    [Fact]
    public void BatchedMatchesPerMatrix()
    {
        var rng = new Random(9);
        // Small matrices (split across the batch) and one large enough to be split inside each matrix.
        foreach (var (batch, m, n, k) in new[] { (7, 17, 33, 65), (3, 300, 129, 300) })
        {
            for (int t = 0; t < 4; t++)
            {
                bool ta = (t & 1) != 0, tb = (t & 2) != 0;
                var cases = new Case[batch];
                for (int i = 0; i < batch; i++) cases[i] = Case.Make(rng, m, n, k, ta, tb, 1.25f, t == 0 ? 0f : 0.5f, pad: 1);
                var c0 = cases[0];
                long sa = c0.A.Length, sb = c0.B.Length, sc = c0.C0.Length;
                var a = cases.SelectMany(x => x.A).ToArray();
                var b = cases.SelectMany(x => x.B).ToArray();
                var c = cases.SelectMany(x => x.C0).ToArray();
                fixed (float* pa = a, pb = b, pc = c)
                    Gemm.SgemmBatched(ta, tb, batch, m, n, k, c0.Alpha, pa, c0.Lda, sa, pb, c0.Ldb, sb, c0.Beta, pc, c0.Ldc, sc);
                for (int i = 0; i < batch; i++) cases[i].Check(c.AsSpan((int)(i * sc), (int)sc).ToArray(), $"batch[{i}]");
            }
        }
    }

    [Fact]
    public void GridSplitsRowsForTallAndColumnsForWide()
    {
        GemmDriver.ChooseGrid(2, 600, 200, 6, 16, out int tm, out int tn);
        Assert.Equal((2, 1), (tm, tn));
        GemmDriver.ChooseGrid(2, 1, 200, 6, 16, out tm, out tn);
        Assert.Equal((1, 2), (tm, tn));
    }
}
