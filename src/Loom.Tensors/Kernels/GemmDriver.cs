using System.Runtime.CompilerServices;

namespace Loom.Tensors.Kernels;

/// <summary>Cache-blocking sizes of the GEMM driver, in elements: KC (shared dimension), MC (rows of A), NC (columns of B).</summary>
internal readonly record struct GemmBlocking(int KC, int MC, int NC);

/// <summary>
/// GotoBLAS/BLIS-style blocked SGEMM driver, specialised per micro-kernel. Loop order: NC columns of B, then KC
/// steps of K (pack a KC x NC block of B), then MC rows of A (packed, sized for the core's L2), then NR-wide B
/// panels (one stays in L1 while it is used) and MR-row A panels (streamed from L2).
/// </summary>
/// <remarks>
/// Threads normally split the NC column blocks (the JC loop): each thread packs its own B block and the A blocks
/// it needs, so the threads share nothing but the read-only inputs and need no barrier until the end. The cost
/// is A packed once per column block instead of once, about 8 / NC of the arithmetic: negligible. When N is too
/// narrow for that, the threads share each packed B block and split the rows of A instead (two barriers per block).
/// </remarks>
internal static unsafe class GemmDriver
{
    /// <summary>Below this many multiply-adds a second thread costs more (dispatch, cache misses) than it saves.</summary>
    internal const long ParallelThreshold = 48L * 48 * 48;

    /// <summary>Columns per thread from which the column split beats the row split (its A re-packing is then below ~2%).</summary>
    internal const int ColumnSplitMinWidth = 384;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run<TK>(bool transA, bool transB, int m, int n, int k, float alpha, float* a, nint lda,
        float* b, nint ldb, float beta, float* c, nint ldc, GemmBlocking blk, int threads, EncodedRows encodedB = default)
        where TK : struct, IGemmMicroKernel
    {
        int mr = TK.MR, nr = TK.NR;
        // Balance the blocks so the last one is not a sliver: K = 768 with KC = 256 is 3 x 256, K = 300 is 2 x 150.
        int kc = CeilDiv(k, CeilDiv(k, blk.KC));
        // Encoded rows decode whole blocks: every KC step starts and ends on a block boundary.
        if (encodedB.Data != null) kc = RoundUp(kc, encodedB.BlockElements);
        if ((long)m * n * k < ParallelThreshold) threads = 1;
        var p = new Problem
        {
            TransA = transA, TransB = transB, M = m, N = n, K = k, Kc = kc, Alpha = alpha, Beta = beta,
            A = a, Lda = lda, B = b, Ldb = ldb, C = c, Ldc = ldc, EncB = encodedB,
        };
        if (threads == 1 || n >= threads * ColumnSplitMinWidth)
        {
            // Column blocks: a multiple of the thread count, claimed dynamically, each at most NC wide.
            int blocks = threads * CeilDiv(n, threads * blk.NC);
            p.Nc = RoundUp(CeilDiv(n, blocks), nr);
            blocks = CeilDiv(n, p.Nc);
            int mcRows = RoundUp(CeilDiv(m, CeilDiv(m, blk.MC)), mr);
            ComputePool.For(blocks, new ColumnBlocksBody<TK> { P = p, McRows = mcRows }, threads == 1 ? 1 : blocks);
        }
        else
        {
            RunRowSplit<TK>(ref p, blk, threads);
        }
    }

    /// <summary>The parts of one Sgemm call every work item needs.</summary>
    private struct Problem
    {
        public bool TransA, TransB;
        public int M, N, K, Kc, Nc;
        public float Alpha, Beta;
        public float* A, B, C;
        public nint Lda, Ldb, Ldc;
        public EncodedRows EncB;
    }

    /// <summary>B panels packed per step on the first row block (8 x KC x 16 floats = 128 KiB: fits L2).</summary>
    private const int PackGroup = 8;

    private struct ColumnBlocksBody<TK> : IRangeBody where TK : struct, IGemmMicroKernel
    {
        public Problem P;
        public int McRows;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Run(int start, int end)
        {
            int nr = TK.NR;
            float* tmp = stackalloc float[TK.MR * TK.NR];
            long bFloats = RoundUp((long)P.Nc * P.Kc, 16), aFloats = (long)McRows * P.Kc;
            // Both packed blocks are private to this thread (pooled, so no allocation in steady state).
            byte* buf = BufferPool.Rent((bFloats + aFloats) * sizeof(float), out long cap);
            try
            {
                float* bPack = (float*)buf, aPack = bPack + bFloats;
                for (int blkIdx = start; blkIdx < end; blkIdx++)
                {
                    int jc = blkIdx * P.Nc;
                    int ncur = Math.Min(P.Nc, P.N - jc);
                    int nPanels = CeilDiv(ncur, nr);
                    for (int pc = 0; pc < P.K; pc += P.Kc)
                    {
                        int kcur = Math.Min(P.Kc, P.K - pc);
                        float beta = pc == 0 ? P.Beta : 1f;
                        for (int i0 = 0; i0 < P.M; i0 += McRows)
                        {
                            int mcur = Math.Min(McRows, P.M - i0);
                            float* cBlock = P.C + (nint)i0 * P.Ldc + jc;
                            GemmPack.PackA<TK>(P.TransA, P.A, P.Lda, i0, mcur, pc, kcur, aPack);
                            if (i0 > 0)
                            {
                                Block<TK>(aPack, mcur, bPack, 0, nPanels, ncur, kcur, cBlock, P.Ldc, P.Alpha, beta, tmp);
                                continue;
                            }
                            // First row block: pack B a few panels at a time right before using them, so reading B
                            // from memory interleaves with arithmetic and the fresh panels are still in L1/L2.
                            for (int q = 0; q < nPanels; q += PackGroup)
                            {
                                int q1 = Math.Min(nPanels, q + PackGroup);
                                if (P.EncB.Data != null) GemmPack.PackBEncoded<TK>(P.EncB, pc, kcur, jc, ncur, q, q1, bPack);
                                else GemmPack.PackB<TK>(P.TransB, P.B, P.Ldb, pc, kcur, jc, ncur, q, q1, bPack);
                                Block<TK>(aPack, mcur, bPack, q, q1, ncur, kcur, cBlock, P.Ldc, P.Alpha, beta, tmp);
                            }
                        }
                    }
                }
            }
            finally
            {
                BufferPool.Return(buf, cap);
            }
        }
    }

    /// <summary>
    /// Row split for narrow N: per (NC, KC) block, all threads pack a share of the shared B block, then claim
    /// work units (MC row blocks x column groups, a multiple of the thread count) dynamically.
    /// </summary>
    private static void RunRowSplit<TK>(ref Problem p, GemmBlocking blk, int threads) where TK : struct, IGemmMicroKernel
    {
        int mr = TK.MR, nr = TK.NR;
        int m = p.M, n = p.N, k = p.K, kc = p.Kc;
        p.Nc = RoundUp(CeilDiv(n, CeilDiv(n, blk.NC)), nr);
        int mPanels = CeilDiv(m, mr);
        ChooseGrid(threads, mPanels, CeilDiv(p.Nc, nr), mr, nr, out int tm, out int tn);
        int blocksPerThread = CeilDiv(CeilDiv(mPanels, tm) * mr, blk.MC);
        int uM = Math.Min(mPanels, tm * blocksPerThread), uN = tn;
        long aFloats = CeilDiv(mPanels, uM) * (long)mr * kc;
        byte* buf = BufferPool.Rent(RoundUp((long)p.Nc * kc, 16) * sizeof(float), out long cap);
        try
        {
            float* bPack = (float*)buf;
            for (int jc = 0; jc < n; jc += p.Nc)
            {
                int ncur = Math.Min(p.Nc, n - jc);
                int nPanels = CeilDiv(ncur, nr);
                for (int pc = 0; pc < k; pc += kc)
                {
                    int kcur = Math.Min(kc, k - pc);
                    ComputePool.For(nPanels, new PackBBody<TK>
                    {
                        TransB = p.TransB, B = p.B, Ldb = p.Ldb, P0 = pc, Kc = kcur, J0 = jc, Nc = ncur, Dst = bPack, EncB = p.EncB,
                    }, 4 * threads);
                    ComputePool.For(uM * uN, new RowUnitsBody<TK>
                    {
                        P = p, BPack = bPack, Jc = jc, Ncur = ncur, Pc = pc, Kcur = kcur, UM = uM, UN = uN, AFloats = aFloats,
                    }, uM * uN);
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
        public EncodedRows EncB;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Run(int start, int end)
        {
            if (EncB.Data != null) GemmPack.PackBEncoded<TK>(EncB, P0, Kc, J0, Nc, start, end, Dst);
            else GemmPack.PackB<TK>(TransB, B, Ldb, P0, Kc, J0, Nc, start, end, Dst);
        }
    }

    private struct RowUnitsBody<TK> : IRangeBody where TK : struct, IGemmMicroKernel
    {
        public Problem P;
        public float* BPack;
        public long AFloats;
        public int Jc, Ncur, Pc, Kcur, UM, UN;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Run(int start, int end)
        {
            int mr = TK.MR, nr = TK.NR;
            float* tmp = stackalloc float[TK.MR * TK.NR];
            int mPanels = CeilDiv(P.M, mr), nPanels = CeilDiv(Ncur, nr);
            float beta = Pc == 0 ? P.Beta : 1f;
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
                    int mcur = Math.Min(P.M, pr1 * mr) - i0;
                    GemmPack.PackA<TK>(P.TransA, P.A, P.Lda, i0, mcur, Pc, Kcur, aPack);
                    Block<TK>(aPack, mcur, BPack, q0, q1, Ncur, Kcur, P.C + (nint)i0 * P.Ldc + Jc, P.Ldc, P.Alpha, beta, tmp);
                }
            }
            finally
            {
                BufferPool.Return((byte*)aPack, cap);
            }
        }
    }

    /// <summary>
    /// The two inner loops over one packed A block (mcur rows) and B panels [q0, q1) of a block ncur wide: each B
    /// panel stays in L1 while every A panel streams past it. Edge tiles are computed in full into
    /// <paramref name="tmp"/> and merged, so the kernels never need masks.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block<TK>(float* aPack, int mcur, float* bPack, int q0, int q1, int ncur, int kc,
        float* c, nint ldc, float alpha, float beta, float* tmp) where TK : struct, IGemmMicroKernel
    {
        int mr = TK.MR, nr = TK.NR;
        for (int q = q0; q < q1; q++)
        {
            float* bp = bPack + (nint)q * nr * kc;
            int ncols = Math.Min(nr, ncur - q * nr);
            float* cCol = c + q * nr;
            for (int ir = 0; ir < mcur; ir += mr)
            {
                float* ap = aPack + (nint)ir * kc;
                float* cp = cCol + ir * ldc;
                int rows = Math.Min(mr, mcur - ir);
                if (rows == mr && ncols == nr)
                {
                    TK.Run(kc, ap, bp, cp, ldc, alpha, beta);
                }
                else
                {
                    TK.Run(kc, ap, bp, tmp, nr, 1f, 0f);
                    MergeEdge(tmp, nr, cp, ldc, rows, ncols, alpha, beta);
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
