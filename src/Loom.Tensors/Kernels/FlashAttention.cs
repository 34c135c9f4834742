using System.Numerics.Tensors;

namespace Loom.Tensors.Kernels;

/// <summary>
/// Where one attention operand lives: a base pointer and element strides for batch, head and position; the
/// head dimension is contiguous. Lets the kernels read (B, T, H, D) projections through a transposed view.
/// </summary>
internal readonly unsafe struct HeadLayout(float* data, long batchStride, long headStride, long posStride)
{
    public readonly float* Data = data;
    public readonly long BatchStride = batchStride, HeadStride = headStride, PosStride = posStride;

    public float* Head(int b, int h) => Data + b * BatchStride + h * HeadStride;
}

/// <summary>
/// Fused scaled-dot-product attention with grouped-query heads (FlashAttention-2 on the CPU): keys are visited in
/// tiles with an online softmax, so only a (query tile x key tile) block of scores ever exists, and only the
/// per-row logsumexp is kept for the backward pass, which recomputes the scores tile by tile.
/// Causal masking aligns the T queries with the last T of the S keys (query i sees key j when j &lt;= i + S - T),
/// which is what decoding with a KV cache needs.
/// </summary>
internal static unsafe class FlashAttention
{
    /// <summary>Query rows per tile.</summary>
    public const int Br = 64;

    /// <summary>Keys per tile.</summary>
    public const int Bc = 64;

    public struct Problem
    {
        public int B, Hq, Hkv, T, S, D;
        public bool Causal;
        public float Scale;
        public HeadLayout Q, K, V;

        public readonly int Group => Hq / Hkv;
        public readonly int Shift => S - T;
        public readonly int QTiles => (T + Br - 1) / Br;
        public readonly int KTiles => (S + Bc - 1) / Bc;

        /// <summary>Chunks for <see cref="ComputePool.For{T}"/>: one per item (causal tiles differ in cost, so they are handed out dynamically), or one in all for problems too small to be worth a dispatch.</summary>
        public readonly int Chunks(int items) => (long)B * Hq * T * S * D < 4 * Ops.ParallelThreshold ? 1 : items;

        /// <summary>Number of keys that query row i may attend to (a prefix of the keys).</summary>
        public readonly int KeysFor(int i) => Causal ? Math.Min(S, i + Shift + 1) : S;
    }

    /// <summary>Forward: o (B, Hq, T, D) contiguous; lse (B, Hq, T) when not null.</summary>
    public static void Forward(in Problem p, float* o, float* lse)
    {
        int items = p.B * p.Hq * p.QTiles;
        ComputePool.For(items, new ForwardBody { P = p, O = o, Lse = lse }, p.Chunks(items));
    }

    /// <summary>
    /// Backward: dO, O contiguous (B, Hq, T, D), lse (B, Hq, T); writes dq (B, Hq, T, D), dk and dv (B, Hkv, S, D),
    /// all contiguous. Nothing is shared between threads, so the result is deterministic.
    /// </summary>
    /// <remarks>
    /// Fused (the default when there are enough (batch, KV head) pairs to keep every thread busy): one work item
    /// per (batch, KV head) walks all its key tiles and owns dK, dV and the dQ rows of its query heads, so the
    /// scores, probabilities and dS of each tile are computed once and dQ += dS K is accumulated in place.
    /// Two-pass (few heads, long sequences): dK/dV items per (KV head, key tile), then dQ items per (query head,
    /// query tile), which recompute the scores; more parallelism, about 1.6x the work.
    /// <paramref name="fused"/> forces one form (tests compare them); null picks.
    /// </remarks>
    public static void Backward(in Problem p, float* o, float* dO, float* lse, float* dq, float* dk, float* dv, bool? fused = null)
    {
        // delta_i = rowsum(dO * O): the softmax-backward term, once per query row.
        var delta = Tensor.Empty(p.B, p.Hq, p.T);
        try
        {
            int rows = p.B * p.Hq * p.T;
            ComputePool.For(rows, new DeltaBody { O = o, DO = dO, Delta = delta.Data, D = p.D }, rows * p.D < Ops.ParallelThreshold ? 1 : 0);
            int heads = p.B * p.Hkv;
            if (fused ?? (ComputePool.Threads == 1 || heads >= 4 * ComputePool.Threads || p.Chunks(heads) == 1))
            {
                ComputePool.For(heads, new DkDvBody { P = p, DO = dO, Lse = lse, Delta = delta.Data, DK = dk, DV = dv, DQ = dq }, p.Chunks(heads));
                return;
            }
            int kvItems = heads * p.KTiles;
            ComputePool.For(kvItems, new DkDvBody { P = p, DO = dO, Lse = lse, Delta = delta.Data, DK = dk, DV = dv }, p.Chunks(kvItems));
            int qItems = p.B * p.Hq * p.QTiles;
            ComputePool.For(qItems, new DqBody { P = p, DO = dO, Lse = lse, Delta = delta.Data, DQ = dq }, p.Chunks(qItems));
        }
        finally
        {
            delta.Dispose();
        }
    }

    /// <summary>Copies query rows [i0, i0 + rows) of one head into qs scaled by the softmax scale.</summary>
    private static void LoadScaledQ(float* q, long posStride, int i0, int rows, int d, float scale, float* qs)
    {
        for (int r = 0; r < rows; r++)
            TensorPrimitives.Multiply(new ReadOnlySpan<float>(q + (i0 + r) * posStride, d), scale, new Span<float>(qs + r * d, d));
    }

    /// <summary>Number of keys of tile [j0, j0 + cols) that query row i sees.</summary>
    private static int Visible(in Problem p, int i, int j0, int cols) => Math.Clamp(p.KeysFor(i) - j0, 0, cols);

    /// <summary>p_ij = exp(s_ij - lse_i) for visible keys, 0 for masked ones (in place over the scores tile).</summary>
    private static void Probabilities(in Problem p, float* s, int i0, int rows, int j0, int cols, float* lseRows)
    {
        for (int r = 0; r < rows; r++)
        {
            float* sr = s + r * Bc;
            int vis = Visible(p, i0 + r, j0, cols);
            var row = new Span<float>(sr, vis);
            TensorPrimitives.Subtract(row, lseRows[r], row);
            TensorPrimitives.Exp(row, row);
            new Span<float>(sr + vis, cols - vis).Clear();
        }
    }

    private struct ForwardBody : IRangeBody
    {
        public Problem P;
        public float* O, Lse;

        public readonly void Run(int start, int end)
        {
            int d = P.D;
            // Qs (Br x D), Kt (D x Bc), S (Br x Bc), Oacc (Br x D), m and l (Br).
            var buf = Scratch.Get(Br * d + d * Bc + Br * Bc + Br * d + 2 * Br);
            fixed (float* basePtr = buf)
            {
                float* qs = basePtr, kt = qs + Br * d, s = kt + d * Bc, acc = s + Br * Bc, m = acc + Br * d, l = m + Br;
                for (int item = start; item < end; item++)
                {
                    int qt = item % P.QTiles, bh = item / P.QTiles, h = bh % P.Hq, b = bh / P.Hq;
                    int hk = h / P.Group;
                    int i0 = qt * Br, rows = Math.Min(Br, P.T - i0);
                    float* q = P.Q.Head(b, h), k = P.K.Head(b, hk), v = P.V.Head(b, hk);
                    LoadScaledQ(q, P.Q.PosStride, i0, rows, d, P.Scale, qs);
                    new Span<float>(acc, rows * d).Clear();
                    new Span<float>(m, rows).Fill(float.NegativeInfinity);
                    new Span<float>(l, rows).Clear();
                    int kEnd = P.KeysFor(i0 + rows - 1);
                    for (int j0 = 0; j0 < kEnd; j0 += Bc)
                    {
                        int cols = Math.Min(Bc, kEnd - j0);
                        TileGemm.Transpose(cols, d, k + j0 * P.K.PosStride, P.K.PosStride, kt, Bc);
                        TileGemm.Run(rows, cols, d, qs, d, kt, Bc, s, Bc, false);
                        for (int r = 0; r < rows; r++)
                        {
                            float* sr = s + r * Bc;
                            int vis = Visible(P, i0 + r, j0, cols);
                            if (vis == 0) { new Span<float>(sr, cols).Clear(); continue; }
                            var row = new Span<float>(sr, vis);
                            float mNew = MathF.Max(m[r], TensorPrimitives.Max(row));
                            float alpha = MathF.Exp(m[r] - mNew); // 0 on the first visible tile (m = -inf)
                            TensorPrimitives.Subtract(row, mNew, row);
                            TensorPrimitives.Exp(row, row);
                            new Span<float>(sr + vis, cols - vis).Clear();
                            l[r] = l[r] * alpha + TensorPrimitives.Sum(row);
                            m[r] = mNew;
                            if (alpha != 1f)
                            {
                                var ar = new Span<float>(acc + r * d, d);
                                TensorPrimitives.Multiply(ar, alpha, ar);
                            }
                        }
                        TileGemm.Run(rows, d, cols, s, Bc, v + j0 * P.V.PosStride, (int)P.V.PosStride, acc, d, true);
                    }
                    long rowBase = ((long)b * P.Hq + h) * P.T + i0;
                    for (int r = 0; r < rows; r++)
                    {
                        TensorPrimitives.Multiply(new ReadOnlySpan<float>(acc + r * d, d), 1f / l[r], new Span<float>(O + (rowBase + r) * d, d));
                        if (Lse != null) Lse[rowBase + r] = m[r] + MathF.Log(l[r]);
                    }
                }
            }
        }
    }

    private struct DeltaBody : IRangeBody
    {
        public float* O, DO, Delta;
        public int D;

        public readonly void Run(int start, int end)
        {
            for (int r = start; r < end; r++)
                Delta[r] = TensorPrimitives.Dot(new ReadOnlySpan<float>(O + (long)r * D, D), new ReadOnlySpan<float>(DO + (long)r * D, D));
        }
    }

    /// <summary>
    /// dK and dV of key tiles; with <see cref="DQ"/> set (fused), an item is a whole (batch, KV head) and also
    /// accumulates dQ of the group's query heads, else an item is one (batch, KV head, key tile).
    /// </summary>
    private struct DkDvBody : IRangeBody
    {
        public Problem P;
        public float* DO, Lse, Delta, DK, DV, DQ;

        public readonly void Run(int start, int end)
        {
            int d = P.D;
            // Kt, Vt (D x Bc); Qs (Br x D); S, dP (Br x Bc); Pt, dSt (Bc x Br); dK, dV accumulators (Bc x D).
            var buf = Scratch.Get(2 * d * Bc + Br * d + 2 * Br * Bc + 2 * Bc * Br + 2 * Bc * d);
            fixed (float* basePtr = buf)
            {
                for (int item = start; item < end; item++)
                {
                    if (DQ == null)
                    {
                        int bh = item / P.KTiles;
                        KeyTile(bh / P.Hkv, bh % P.Hkv, item % P.KTiles, basePtr);
                        continue;
                    }
                    int b = item / P.Hkv, hk = item % P.Hkv;
                    long dqBase = ((long)b * P.Hq + hk * P.Group) * P.T * d, dqLen = (long)P.Group * P.T * d;
                    new Span<float>(DQ + dqBase, (int)dqLen).Clear();
                    for (int kt = 0; kt < P.KTiles; kt++) KeyTile(b, hk, kt, basePtr);
                    // dS K above was accumulated against unscaled K; dQ = scale * dS K.
                    var dqs = new Span<float>(DQ + dqBase, (int)dqLen);
                    TensorPrimitives.Multiply(dqs, P.Scale, dqs);
                }
            }
        }

        private readonly void KeyTile(int b, int hk, int kTile, float* basePtr)
        {
            int d = P.D;
            float* kt = basePtr, vt = kt + d * Bc, qs = vt + d * Bc, s = qs + Br * d, dp = s + Br * Bc;
            float* pt = dp + Br * Bc, dst = pt + Bc * Br, dkAcc = dst + Bc * Br, dvAcc = dkAcc + Bc * d;
            int j0 = kTile * Bc, cols = Math.Min(Bc, P.S - j0);
            float* k = P.K.Head(b, hk), v = P.V.Head(b, hk);
            float* kTileRows = k + j0 * P.K.PosStride;
            TileGemm.Transpose(cols, d, kTileRows, P.K.PosStride, kt, Bc);
            TileGemm.Transpose(cols, d, v + j0 * P.V.PosStride, P.V.PosStride, vt, Bc);
            new Span<float>(dkAcc, cols * d).Clear();
            new Span<float>(dvAcc, cols * d).Clear();
            // Causal: the first query that sees key j0 is j0 - (S - T).
            int firstRow = P.Causal ? Math.Max(0, j0 - P.Shift) : 0;
            for (int h = hk * P.Group; h < (hk + 1) * P.Group; h++)
            {
                float* q = P.Q.Head(b, h);
                long rowBase = ((long)b * P.Hq + h) * P.T;
                for (int i0 = firstRow / Br * Br; i0 < P.T; i0 += Br)
                {
                    int rows = Math.Min(Br, P.T - i0);
                    LoadScaledQ(q, P.Q.PosStride, i0, rows, d, P.Scale, qs);
                    TileGemm.Run(rows, cols, d, qs, d, kt, Bc, s, Bc, false);
                    Probabilities(P, s, i0, rows, j0, cols, Lse + rowBase + i0);
                    float* dOt = DO + (rowBase + i0) * d;
                    TileGemm.Transpose(rows, cols, s, Bc, pt, Br);
                    TileGemm.Run(cols, d, rows, pt, Br, dOt, d, dvAcc, d, true);      // dV += P^T dO
                    TileGemm.Run(rows, cols, d, dOt, d, vt, Bc, dp, Bc, false);       // dP = dO V^T
                    for (int r = 0; r < rows; r++)
                    {
                        // dS = P * (dP - delta)
                        var dpr = new Span<float>(dp + r * Bc, cols);
                        TensorPrimitives.Subtract(dpr, Delta[rowBase + i0 + r], dpr);
                        TensorPrimitives.Multiply(dpr, new ReadOnlySpan<float>(s + r * Bc, cols), dpr);
                    }
                    TileGemm.Transpose(rows, cols, dp, Bc, dst, Br);
                    TileGemm.Run(cols, d, rows, dst, Br, qs, d, dkAcc, d, true);      // dK += dS^T (scale Q)
                    if (DQ != null)
                        TileGemm.Run(rows, d, cols, dp, Bc, kTileRows, (int)P.K.PosStride, DQ + (rowBase + i0) * d, d, true); // dQ += dS K
                }
            }
            long outBase = (((long)b * P.Hkv + hk) * P.S + j0) * d;
            new ReadOnlySpan<float>(dkAcc, cols * d).CopyTo(new Span<float>(DK + outBase, cols * d));
            new ReadOnlySpan<float>(dvAcc, cols * d).CopyTo(new Span<float>(DV + outBase, cols * d));
        }
    }

    private struct DqBody : IRangeBody
    {
        public Problem P;
        public float* DO, Lse, Delta, DQ;

        public readonly void Run(int start, int end)
        {
            int d = P.D;
            // Qs, dQ accumulator (Br x D); Kt, Vt (D x Bc); S, dP (Br x Bc).
            var buf = Scratch.Get(2 * Br * d + 2 * d * Bc + 2 * Br * Bc);
            fixed (float* basePtr = buf)
            {
                float* qs = basePtr, acc = qs + Br * d, kt = acc + Br * d, vt = kt + d * Bc, s = vt + d * Bc, dp = s + Br * Bc;
                for (int item = start; item < end; item++)
                {
                    int qt = item % P.QTiles, bh = item / P.QTiles, h = bh % P.Hq, b = bh / P.Hq;
                    int hk = h / P.Group;
                    int i0 = qt * Br, rows = Math.Min(Br, P.T - i0);
                    float* q = P.Q.Head(b, h), k = P.K.Head(b, hk), v = P.V.Head(b, hk);
                    long rowBase = ((long)b * P.Hq + h) * P.T + i0;
                    float* dOt = DO + rowBase * d;
                    LoadScaledQ(q, P.Q.PosStride, i0, rows, d, P.Scale, qs);
                    new Span<float>(acc, rows * d).Clear();
                    int kEnd = P.KeysFor(i0 + rows - 1);
                    for (int j0 = 0; j0 < kEnd; j0 += Bc)
                    {
                        int cols = Math.Min(Bc, kEnd - j0);
                        TileGemm.Transpose(cols, d, k + j0 * P.K.PosStride, P.K.PosStride, kt, Bc);
                        TileGemm.Transpose(cols, d, v + j0 * P.V.PosStride, P.V.PosStride, vt, Bc);
                        TileGemm.Run(rows, cols, d, qs, d, kt, Bc, s, Bc, false);
                        Probabilities(P, s, i0, rows, j0, cols, Lse + rowBase);
                        TileGemm.Run(rows, cols, d, dOt, d, vt, Bc, dp, Bc, false);
                        for (int r = 0; r < rows; r++)
                        {
                            var dpr = new Span<float>(dp + r * Bc, cols);
                            TensorPrimitives.Subtract(dpr, Delta[rowBase + r], dpr);
                            TensorPrimitives.Multiply(dpr, new ReadOnlySpan<float>(s + r * Bc, cols), dpr);
                        }
                        TileGemm.Run(rows, d, cols, dp, Bc, k + j0 * P.K.PosStride, (int)P.K.PosStride, acc, d, true); // dQ += dS K
                    }
                    TensorPrimitives.Multiply(new ReadOnlySpan<float>(acc, rows * d), P.Scale, new Span<float>(DQ + rowBase * d, rows * d));
                }
            }
        }
    }
}
