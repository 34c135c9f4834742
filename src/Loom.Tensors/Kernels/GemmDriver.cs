using System.Runtime.CompilerServices;

namespace Loom.Tensors.Kernels;

/// <summary>Cache-blocking sizes of the GEMM driver, in elements: KC (shared dimension), MC (rows of A), NC (columns of B).</summary>
internal readonly record struct GemmBlocking(int KC, int MC, int NC);

/// <summary>
/// GotoBLAS/BLIS-style blocked SGEMM driver, specialised per micro-kernel. Loop order: NC columns of B, then KC
/// steps of K (pack a KC x NC block of B, shared by all threads, sized for L3), then units of MC rows of A
/// (packed by the thread that claims the unit, sized for that core's L2), then NR-wide B panels (one stays in L1) and MR-row A panels.
/// </summary>
internal static unsafe class GemmDriver
{
    /// <summary>Below this many multiply-adds a second thread costs more (dispatch, cache misses) than it saves.</summary>
    internal const long ParallelThreshold = 48L * 48 * 48;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run<TK>(bool transA, bool transB, int m, int n, int k, float alpha, float* a, nint lda,
        float* b, nint ldb, float beta, float* c, nint ldc, GemmBlocking blk, int threads)
        where TK : struct, IGemmMicroKernel
    {
        int mr = TK.MR, nr = TK.NR;
        // Balance the blocks so the last one is not a sliver: K = 768 with KC = 256 is 3 x 256, K = 300 is 2 x 150.
        int kc = CeilDiv(k, CeilDiv(k, blk.KC));
        int nc = RoundUp(CeilDiv(n, CeilDiv(n, blk.NC)), nr);
        if ((long)m * n * k < ParallelThreshold) threads = 1;
        int mPanels = CeilDiv(m, mr);
        ChooseGrid(threads, mPanels, CeilDiv(Math.Min(nc, n), nr), mr, nr, out int tm, out int tn);

        // Work units: each thread's rows cut into MC blocks, times its column groups. Threads claim units
        // dynamically, so a thread that loses its core to another process for a while does not stall the
        // other at the barrier with half the work; the unit count is a multiple of the thread count.
        int blocksPerThread = CeilDiv(CeilDiv(mPanels, tm) * mr, blk.MC);
        int uM = Math.Min(mPanels, tm * blocksPerThread), uN = tn;
        int units = uM * uN;
        long aFloats = RoundUp(CeilDiv(mPanels, uM) * (long)mr * kc, 16);
        long bFloats = RoundUp(nc * (long)kc, 16);
        byte* buf = BufferPool.Rent(bFloats * sizeof(float), out long cap);
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
                    }, threads == 1 ? 1 : 4 * threads);
                    ComputePool.For(units, new MacroBody<TK>
                    {
                        TransA = transA, A = a, Lda = lda, BPack = bPack, C = c, Ldc = ldc, M = m, Jc = jc, Ncur = ncur,
                        Pc = pc, Kc = kcur, Alpha = alpha, Beta = pc == 0 ? beta : 1f, UM = uM, UN = uN, AFloats = aFloats,
                    }, threads == 1 ? 1 : units);
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

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Run(int start, int end) => GemmPack.PackB<TK>(TransB, B, Ldb, P0, Kc, J0, Nc, start, end, Dst);
    }

    private struct MacroBody<TK> : IRangeBody where TK : struct, IGemmMicroKernel
    {
        public bool TransA;
        public float* A, BPack, C;
        public nint Lda, Ldc;
        public long AFloats;
        public int M, Jc, Ncur, Pc, Kc, UM, UN;
        public float Alpha, Beta;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Run(int start, int end)
        {
            int mr = TK.MR, nr = TK.NR;
            // Edge tiles are computed in full into this scratch tile and then merged, so kernels never mask.
            float* tmp = stackalloc float[TK.MR * TK.NR];
            int mPanels = CeilDiv(M, mr), nPanels = CeilDiv(Ncur, nr);
            // The packed A block is private to the thread running these units (pooled, so no allocation).
            float* aPack = (float*)BufferPool.Rent(AFloats * sizeof(float), out long cap);
            try
            {
                for (int u = start; u < end; u++)
                {
                    int um = u / UN, un = u % UN;
                    int pr0 = (int)((long)mPanels * um / UM), pr1 = (int)((long)mPanels * (um + 1) / UM);
                    int q0 = (int)((long)nPanels * un / UN), q1 = (int)((long)nPanels * (un + 1) / UN);
                    if (pr0 >= pr1 || q0 >= q1) continue;
                    int i0 = pr0 * mr;
                    int mcur = Math.Min(M, pr1 * mr) - i0;
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
            finally
            {
                BufferPool.Return((byte*)aPack, cap);
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
