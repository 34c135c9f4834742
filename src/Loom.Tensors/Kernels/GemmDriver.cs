using System.Runtime.CompilerServices;

namespace Loom.Tensors.Kernels;

/// <summary>Cache-blocking sizes of the GEMM driver, in elements: KC (shared dimension), MC (rows of A), NC (columns of B).</summary>
internal readonly record struct GemmBlocking(int KC, int MC, int NC);

/// <summary>
/// GotoBLAS/BLIS-style blocked SGEMM driver, specialised per micro-kernel. Loop order: NC columns of B, then KC
/// steps of K (pack a KC x NC block of B, shared by all threads, sized for L3), then per thread MC rows of A
/// (packed per thread, sized for that core's L2), then NR-wide B panels (one stays in L1) and MR-row A panels.
/// </summary>
internal static unsafe class GemmDriver
{
    /// <summary>Below this many multiply-adds a second thread costs more (dispatch, cache misses) than it saves.</summary>
    internal const long ParallelThreshold = 48L * 48 * 48;

    public static void Run<TK>(bool transA, bool transB, int m, int n, int k, float alpha, float* a, nint lda,
        float* b, nint ldb, float beta, float* c, nint ldc, GemmBlocking blk, int threads)
        where TK : struct, IGemmMicroKernel
    {
        int mr = TK.MR, nr = TK.NR;
        // Balance the blocks so the last one is not a sliver: K = 768 with KC = 256 is 3 x 256, K = 300 is 2 x 150.
        int kc = CeilDiv(k, CeilDiv(k, blk.KC));
        int nc = RoundUp(CeilDiv(n, CeilDiv(n, blk.NC)), nr);
        if ((long)m * n * k < ParallelThreshold) threads = 1;
        ChooseGrid(threads, CeilDiv(m, mr), CeilDiv(Math.Min(nc, n), nr), mr, nr, out int tm, out int tn);
        threads = tm * tn;

        int rowsPerThread = CeilDiv(CeilDiv(m, mr), tm) * mr;
        int mcMax = Math.Min(RoundUp(blk.MC, mr), rowsPerThread);
        long aFloats = RoundUp(mcMax * (long)kc, 16); // 64-byte aligned per-thread slices
        long bFloats = RoundUp(nc * (long)kc, 16);
        long bytes = (bFloats + aFloats * threads) * sizeof(float);
        byte* buf = BufferPool.Rent(bytes, out long cap);
        try
        {
            float* bPack = (float*)buf;
            for (int jc = 0; jc < n; jc += nc)
            {
                int ncur = Math.Min(nc, n - jc);
                int nPanels = CeilDiv(ncur, nr);
                for (int pc = 0; pc < k; pc += kc)
                {
                    int kcur = Math.Min(kc, k - pc);
                    // The B block is shared: all threads pack a share of its panels, then all compute on it.
                    ComputePool.For(nPanels, new PackBBody<TK>
                    {
                        TransB = transB, B = b, Ldb = ldb, P0 = pc, Kc = kcur, J0 = jc, Nc = ncur, Dst = bPack,
                    }, threads);
                    ComputePool.For(threads, new MacroBody<TK>
                    {
                        TransA = transA, A = a, Lda = lda, BPack = bPack, C = c, Ldc = ldc, M = m, Jc = jc, Ncur = ncur,
                        Pc = pc, Kc = kcur, Alpha = alpha, Beta = pc == 0 ? beta : 1f, Tm = tm, Tn = tn,
                        McMax = mcMax, APack = (float*)buf + bFloats, AStride = aFloats,
                    }, threads);
                }
            }
        }
        finally
        {
            BufferPool.Return(buf, cap);
        }
    }

    /// <summary>
    /// Splits the threads into a tm x tn grid over (row panels, column panels) minimising the largest per-thread
    /// cost: its tile area (FMAs / 16 per cycle) plus its A packing (about one cycle per element, and repeated
    /// by every column group). Tall matrices split rows; short wide ones (few row panels) split columns.
    /// </summary>
    internal static void ChooseGrid(int threads, int mPanels, int nPanels, int mr, int nr, out int tm, out int tn)
    {
        tm = 1; tn = 1;
        double best = double.MaxValue;
        for (int x = 1; x <= threads; x++)
        {
            if (threads % x != 0) continue;
            int y = threads / x;
            if (x > mPanels || y > nPanels) continue;
            double rows = CeilDiv(mPanels, x) * (double)mr, cols = CeilDiv(nPanels, y) * (double)nr;
            double cost = rows * cols / 16 + rows;
            if (cost < best - 1e-9 || (Math.Abs(cost - best) < 1e-9 && x > tm)) { best = cost; tm = x; tn = y; }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int CeilDiv(int x, int y) => (x + y - 1) / y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int RoundUp(int x, int y) => CeilDiv(x, y) * y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static long RoundUp(long x, long y) => (x + y - 1) / y * y;

    private struct PackBBody<TK> : IRangeBody where TK : struct, IGemmMicroKernel
    {
        public bool TransB;
        public float* B, Dst;
        public nint Ldb;
        public int P0, Kc, J0, Nc;

        public readonly void Run(int start, int end) => GemmPack.PackB<TK>(TransB, B, Ldb, P0, Kc, J0, Nc, start, end, Dst);
    }

    private struct MacroBody<TK> : IRangeBody where TK : struct, IGemmMicroKernel
    {
        public bool TransA;
        public float* A, BPack, C, APack;
        public nint Lda, Ldc;
        public long AStride;
        public int M, Jc, Ncur, Pc, Kc, Tm, Tn, McMax;
        public float Alpha, Beta;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Run(int start, int end)
        {
            int mr = TK.MR, nr = TK.NR;
            // Edge tiles are computed in full into this scratch tile and then merged, so kernels never mask.
            float* tmp = stackalloc float[TK.MR * TK.NR];
            int mPanels = CeilDiv(M, mr), nPanels = CeilDiv(Ncur, nr);
            for (int t = start; t < end; t++)
            {
                int ti = t / Tn, tj = t % Tn;
                int pr0 = (int)((long)mPanels * ti / Tm), pr1 = (int)((long)mPanels * (ti + 1) / Tm);
                int q0 = (int)((long)nPanels * tj / Tn), q1 = (int)((long)nPanels * (tj + 1) / Tn);
                if (pr0 >= pr1 || q0 >= q1) continue;
                float* aPack = APack + t * AStride;
                // Equal MC blocks within this thread's rows, each at most McMax rows.
                int rowsPanels = pr1 - pr0;
                int blockPanels = CeilDiv(rowsPanels, CeilDiv(rowsPanels * mr, McMax));
                for (int ib = pr0; ib < pr1; ib += blockPanels)
                {
                    int i0 = ib * mr;
                    int mcur = Math.Min(M, Math.Min(pr1, ib + blockPanels) * mr) - i0;
                    GemmPack.PackA<TK>(TransA, A, Lda, i0, mcur, Pc, Kc, aPack);
                    for (int q = q0; q < q1; q++)
                    {
                        float* bp = BPack + (nint)q * nr * Kc;
                        int j = Jc + q * nr;
                        int ncols = Math.Min(nr, Ncur - q * nr);
                        float* cRow = C + (nint)i0 * Ldc + j;
                        for (int ir = 0; ir < mcur; ir += mr)
                        {
                            float* ap = aPack + (nint)ir * Kc;
                            float* cp = cRow + ir * Ldc;
                            int rows = Math.Min(mr, mcur - ir);
                            if (rows == mr && ncols == nr)
                            {
                                TK.Run(Kc, ap, bp, cp, Ldc, Alpha, Beta);
                            }
                            else
                            {
                                TK.Run(Kc, ap, bp, tmp, nr, 1f, 0f);
                                MergeEdge(tmp, nr, cp, Ldc, rows, ncols, Alpha, Beta);
                            }
                        }
                    }
                }
            }
        }
    }

    private static void MergeEdge(float* tmp, int nr, float* c, nint ldc, int rows, int cols, float alpha, float beta)
    {
        for (int i = 0; i < rows; i++)
        {
            float* t = tmp + i * nr;
            float* r = c + i * ldc;
            if (beta == 0f) for (int j = 0; j < cols; j++) r[j] = alpha * t[j];
            else for (int j = 0; j < cols; j++) r[j] = alpha * t[j] + beta * r[j];
        }
    }
}
