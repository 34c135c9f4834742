using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Loom.Tensors.Quant;

/// <summary>
/// y (T, N) = x (T, K) · Wᵀ for f32 weights W (N, K), every output summed in one fixed order whatever the number of
/// tokens and whichever tile computes it: eight FMA lanes over k (lane j takes k ≡ j mod 8), the lanes added as
/// ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)), then the last K mod 8 products by scalar FMA. A served sequence
/// therefore gets the same logits alone and in a batch of any size or composition (same seed, same text), which the
/// row kernels (one dot product order for one token, another for 4-16, the SGEMM's for more) do not give.
/// Tiles: two weight rows x four tokens (each loaded weight vector feeds four FMAs, each token vector two), and eight
/// rows x one token for the tokens left over; the eight accumulators of a tile are reduced together by two levels of
/// horizontal adds, which add the lanes in exactly the order above. Tiles prefetch the rows they come to next (a served
/// model's weights come from L3 or DRAM, and three or eight row streams alone leave the loads waiting); with several
/// passes of four tokens over the same rows, every pass prefetches a share, so the weight stream never pauses while a
/// pass works from L1. Prefetches change no result.
/// </summary>
public static unsafe class InvariantF32MatMul
{
    public static bool Supported => Avx.IsSupported && Fma.IsSupported;

    /// <summary>
    /// Rows per pool chunk (chunks are taken dynamically, so a thread slowed by the machine does not hold up the step): a
    /// multiple of both tiles' heights, so only a matrix's last chunk has rows left over for the one-output dot.
    /// </summary>
    private const int ChunkRows = 96;

    /// <summary>Tokens per pass over a chunk's rows: their activations stay in L1/L2 while the rows go by.</summary>
    private const int TokenBlock = 32;

    /// <summary>How far ahead the 3x4 tiles prefetch, in rows: two tiles (one tile ahead leaves the loads waiting).</summary>
    private const int PrefetchRows = 6;

    /// <summary>y0 = x · W0ᵀ and, when given, y1 = x · W1ᵀ and y2 = x · W2ᵀ (same K), as one pool job.</summary>
    public static void MatMul(ReadOnlySpan<float> x, int tokens, QuantMatrix w0, Span<float> y0,
        QuantMatrix? w1 = null, Span<float> y1 = default, QuantMatrix? w2 = null, Span<float> y2 = default)
    {
        if (!Supported) throw new PlatformNotSupportedException("the batch-invariant f32 kernel needs AVX and FMA");
        if (tokens <= 0) return;
        int k = w0.Cols;
        Check(x, tokens, w0, y0, k);
        if (w1 != null) Check(x, tokens, w1, y1, k);
        if (w2 != null) Check(x, tokens, w2, y2, k);
        fixed (float* xp = x, p0 = y0, p1 = y1, p2 = y2)
        {
            var body = new Body { X = xp, Tokens = tokens, K = k };
            body.A = Slice(w0, p0, 0);
            body.B = w1 != null ? Slice(w1, p1, body.A.ChunkEnd) : new Part { ChunkStart = body.A.ChunkEnd, ChunkEnd = body.A.ChunkEnd };
            body.C = w2 != null ? Slice(w2, p2, body.B.ChunkEnd) : new Part { ChunkStart = body.B.ChunkEnd, ChunkEnd = body.B.ChunkEnd };
            int chunks = body.C.ChunkEnd;
            ComputePool.For(chunks, body, chunks);
        }
        GC.KeepAlive(w0);
        GC.KeepAlive(w1);
        GC.KeepAlive(w2);
    }

    private static void Check(ReadOnlySpan<float> x, int tokens, QuantMatrix w, Span<float> y, int k)
    {
        if (w.Type != GgmlType.F32) throw new ArgumentException($"weights are {w.Type}, not F32");
        if (w.Cols != k) throw new ArgumentException($"weights have {w.Cols} columns, not {k}");
        if (x.Length < (long)tokens * k) throw new ArgumentException($"x has {x.Length} elements, fewer than ({tokens}, {k})");
        if (y.Length < (long)tokens * w.Rows) throw new ArgumentException($"y has {y.Length} elements, fewer than ({tokens}, {w.Rows})");
    }

    private static Part Slice(QuantMatrix w, float* y, int chunkStart)
    {
        // The weights live in native or pinned memory for the matrix's lifetime (QuantMatrix keeps its owner).
        float* wp = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(w.Row(0)));
        return new Part { W = wp, Y = y, Rows = w.Rows, ChunkStart = chunkStart, ChunkEnd = chunkStart + (w.Rows + ChunkRows - 1) / ChunkRows };
    }

    private struct Part
    {
        public float* W, Y;
        public int Rows, ChunkStart, ChunkEnd;
    }

    private struct Body : IRangeBody
    {
        public float* X;
        public int Tokens, K;
        public Part A, B, C;

        public readonly void Run(int start, int end)
        {
            for (int c = start; c < end; c++)
            {
                var p = c < A.ChunkEnd ? A : c < B.ChunkEnd ? B : C;
                int r0 = (c - p.ChunkStart) * ChunkRows;
                Rows(X, Tokens, K, p.W, p.Rows, p.Y, r0, Math.Min(p.Rows, r0 + ChunkRows));
            }
        }
    }

    /// <summary>Rows [r0, r1) of W (rows x k) against every token: y[t * rows + r].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Rows(float* x, int tokens, int k, float* w, int rows, float* y, int r0, int r1)
    {
        float* lanes = stackalloc float[8];
        int t4 = tokens & ~3;
        for (int tb = 0; tb < t4; tb += TokenBlock)
        {
            int te = Math.Min(t4, tb + TokenBlock);
            int r = r0;
            // Each pass over these rows (four tokens each) prefetches its share of the rows two tiles on, so the weight
            // stream keeps going through the passes that find their rows in L1 (the rows may lie in the next chunk).
            int passes = (te - tb) >> 2;
            long pfStep = Math.Max(1, 16 / passes);
            for (; r + 3 <= r1; r += 3)
            {
                float* ahead = r + PrefetchRows + 3 <= rows ? w + (long)(r + PrefetchRows) * k : null;
                for (int t = tb; t < te; t += 4)
                {
                    float* wr = w + (long)r * k, xt = x + (long)t * k, yt = y + (long)t * rows + r;
                    if (ahead != null) Tile3x4<Prefetch>(wr, xt, k, yt, rows, lanes, ahead + (long)((t - tb) >> 2) * k / passes, pfStep);
                    else Tile3x4<NoPrefetch>(wr, xt, k, yt, rows, lanes, null, 0);
                }
            }
            for (; r + 2 <= r1; r += 2)
                for (int t = tb; t < te; t += 4) Tile2x4(w + (long)r * k, x + (long)t * k, k, y + (long)t * rows + r, rows, lanes);
            for (; r < r1; r++)
                for (int t = tb; t < te; t++) y[(long)t * rows + r] = Dot(w + (long)r * k, x + (long)t * k, k);
        }
        for (int t = t4; t < tokens; t++)
        {
            float* xt = x + (long)t * k;
            float* yt = y + (long)t * rows;
            int r = r0;
            for (; r + 8 <= r1; r += 8)
            {
                // The first leftover token's pass brings each next tile in; later tokens find the chunk's rows in cache.
                if (t == t4 && r + 16 <= r1) Tile8x1<Prefetch>(w + (long)r * k, xt, k, yt + r, lanes, w + (long)(r + 8) * k);
                else Tile8x1<NoPrefetch>(w + (long)r * k, xt, k, yt + r, lanes, null);
            }
            for (; r < r1; r++) yt[r] = Dot(w + (long)r * k, xt, k);
        }
    }

    /// <summary>
    /// The eight vectors' lane sums, in order: two horizontal-add levels give ((l0 + l1) + (l2 + l3)) and
    /// ((l4 + l5) + (l6 + l7)) of each vector in the low and high halves, added last.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Reduce8(Vector256<float> a, Vector256<float> b, Vector256<float> c, Vector256<float> d,
        Vector256<float> e, Vector256<float> f, Vector256<float> g, Vector256<float> h)
    {
        var abcd = Avx.HorizontalAdd(Avx.HorizontalAdd(a, b), Avx.HorizontalAdd(c, d));   // [a0123 b0123 c0123 d0123 | a4567 ...]
        var efgh = Avx.HorizontalAdd(Avx.HorizontalAdd(e, f), Avx.HorizontalAdd(g, h));
        return Avx.Add(Avx.Permute2x128(abcd, efgh, 0x20), Avx.Permute2x128(abcd, efgh, 0x31));
    }

    /// <summary>One output in the fixed order (leftover rows): the same lanes, lane sum and tail as the tiles.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Dot(float* w, float* x, int k)
    {
        var acc = Vector256<float>.Zero;
        int i = 0;
        for (; i + 8 <= k; i += 8) acc = Fma.MultiplyAdd(Avx.LoadVector256(w + i), Avx.LoadVector256(x + i), acc);
        float s = (acc.GetElement(0) + acc.GetElement(1) + (acc.GetElement(2) + acc.GetElement(3)))
                  + (acc.GetElement(4) + acc.GetElement(5) + (acc.GetElement(6) + acc.GetElement(7)));
        for (; i < k; i++) s = MathF.FusedMultiplyAdd(w[i], x[i], s);
        return s;
    }

    /// <summary>Rows w, w + k against tokens x .. x + 3k: y[t * ldy + {0, 1}].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile2x4(float* w0, float* x0, int k, float* y, long ldy, float* lanes)
    {
        float* w1 = w0 + k, x1 = x0 + k, x2 = x1 + k, x3 = x2 + k;
        var a00 = Vector256<float>.Zero; var a01 = Vector256<float>.Zero; var a02 = Vector256<float>.Zero; var a03 = Vector256<float>.Zero;
        var a10 = Vector256<float>.Zero; var a11 = Vector256<float>.Zero; var a12 = Vector256<float>.Zero; var a13 = Vector256<float>.Zero;
        int i = 0;
        for (; i + 8 <= k; i += 8)
        {
            var v0 = Avx.LoadVector256(w0 + i);
            var v1 = Avx.LoadVector256(w1 + i);
            var t = Avx.LoadVector256(x0 + i);
            a00 = Fma.MultiplyAdd(v0, t, a00); a10 = Fma.MultiplyAdd(v1, t, a10);
            t = Avx.LoadVector256(x1 + i);
            a01 = Fma.MultiplyAdd(v0, t, a01); a11 = Fma.MultiplyAdd(v1, t, a11);
            t = Avx.LoadVector256(x2 + i);
            a02 = Fma.MultiplyAdd(v0, t, a02); a12 = Fma.MultiplyAdd(v1, t, a12);
            t = Avx.LoadVector256(x3 + i);
            a03 = Fma.MultiplyAdd(v0, t, a03); a13 = Fma.MultiplyAdd(v1, t, a13);
        }
        Avx.Store(lanes, Reduce8(a00, a01, a02, a03, a10, a11, a12, a13));   // [r0t0 r0t1 r0t2 r0t3 r1t0 r1t1 r1t2 r1t3]
        for (; i < k; i++)
        {
            float u0 = w0[i], u1 = w1[i];
            lanes[0] = MathF.FusedMultiplyAdd(u0, x0[i], lanes[0]); lanes[1] = MathF.FusedMultiplyAdd(u0, x1[i], lanes[1]);
            lanes[2] = MathF.FusedMultiplyAdd(u0, x2[i], lanes[2]); lanes[3] = MathF.FusedMultiplyAdd(u0, x3[i], lanes[3]);
            lanes[4] = MathF.FusedMultiplyAdd(u1, x0[i], lanes[4]); lanes[5] = MathF.FusedMultiplyAdd(u1, x1[i], lanes[5]);
            lanes[6] = MathF.FusedMultiplyAdd(u1, x2[i], lanes[6]); lanes[7] = MathF.FusedMultiplyAdd(u1, x3[i], lanes[7]);
        }
        y[0] = lanes[0]; y[ldy] = lanes[1]; y[2 * ldy] = lanes[2]; y[3 * ldy] = lanes[3];
        y[1] = lanes[4]; y[ldy + 1] = lanes[5]; y[2 * ldy + 1] = lanes[6]; y[3 * ldy + 1] = lanes[7];
    }

    /// <summary>Whether a tile issues prefetches: a type argument, so the tile without them has no prefetch code at all.</summary>
    private interface IPrefetch { static abstract bool On { get; } }
    private struct Prefetch : IPrefetch { public static bool On => true; }
    private struct NoPrefetch : IPrefetch { public static bool On => false; }

    /// <summary>The body of <see cref="Tile3x4{P}"/> for one 8-wide step of k: twelve FMAs into the accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Step3x4(float* wp, float* xp, long k1,
        ref Vector256<float> a00, ref Vector256<float> a01, ref Vector256<float> a02, ref Vector256<float> a03,
        ref Vector256<float> a10, ref Vector256<float> a11, ref Vector256<float> a12, ref Vector256<float> a13,
        ref Vector256<float> a20, ref Vector256<float> a21, ref Vector256<float> a22, ref Vector256<float> a23)
    {
        var v0 = Avx.LoadVector256(wp);
        var v1 = Avx.LoadVector256(wp + k1);
        var v2 = Avx.LoadVector256(wp + 2 * k1);
        var t = Avx.LoadVector256(xp);
        a00 = Fma.MultiplyAdd(v0, t, a00); a10 = Fma.MultiplyAdd(v1, t, a10); a20 = Fma.MultiplyAdd(v2, t, a20);
        t = Avx.LoadVector256(xp + k1);
        a01 = Fma.MultiplyAdd(v0, t, a01); a11 = Fma.MultiplyAdd(v1, t, a11); a21 = Fma.MultiplyAdd(v2, t, a21);
        t = Avx.LoadVector256(xp + 2 * k1);
        a02 = Fma.MultiplyAdd(v0, t, a02); a12 = Fma.MultiplyAdd(v1, t, a12); a22 = Fma.MultiplyAdd(v2, t, a22);
        t = Avx.LoadVector256(xp + 3 * k1);
        a03 = Fma.MultiplyAdd(v0, t, a03); a13 = Fma.MultiplyAdd(v1, t, a13); a23 = Fma.MultiplyAdd(v2, t, a23);
    }

    /// <summary>Rows w0, w0 + k, w0 + 2k against tokens x .. x + 3k: y[t * ldy + {0, 1, 2}]. Twelve accumulators: each
    /// loaded weight vector feeds four FMAs and each token vector three (7 loads per 12 FMAs, against 6 per 8 in 2x4).
    /// With <typeparamref name="P"/> on, each 16-wide step prefetches one line of each of the three rows at
    /// <paramref name="pf"/>, which moves on by <paramref name="pfStep"/> floats a step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile3x4<P>(float* w0, float* x0, int k, float* y, long ldy, float* lanes, float* pf, long pfStep) where P : struct, IPrefetch
    {
        var a00 = Vector256<float>.Zero; var a01 = Vector256<float>.Zero; var a02 = Vector256<float>.Zero; var a03 = Vector256<float>.Zero;
        var a10 = Vector256<float>.Zero; var a11 = Vector256<float>.Zero; var a12 = Vector256<float>.Zero; var a13 = Vector256<float>.Zero;
        var a20 = Vector256<float>.Zero; var a21 = Vector256<float>.Zero; var a22 = Vector256<float>.Zero; var a23 = Vector256<float>.Zero;
        // Pointers and a stride rather than seven row pointers: the loop then fits the general registers. Two 8-wide
        // steps a turn (each accumulator still takes its k-blocks in order), so a turn's prefetches cover one line a row.
        long k1 = k;
        float* wp = w0, xp = x0, wEnd16 = w0 + (k & ~15);
        for (; wp < wEnd16; wp += 16, xp += 16, pf += pfStep)
        {
            if (P.On) { Sse.Prefetch0(pf); Sse.Prefetch0(pf + k1); Sse.Prefetch0(pf + 2 * k1); }
            Step3x4(wp, xp, k1, ref a00, ref a01, ref a02, ref a03, ref a10, ref a11, ref a12, ref a13, ref a20, ref a21, ref a22, ref a23);
            Step3x4(wp + 8, xp + 8, k1, ref a00, ref a01, ref a02, ref a03, ref a10, ref a11, ref a12, ref a13, ref a20, ref a21, ref a22, ref a23);
        }
        if ((k & 8) != 0)
            Step3x4(wp, xp, k1, ref a00, ref a01, ref a02, ref a03, ref a10, ref a11, ref a12, ref a13, ref a20, ref a21, ref a22, ref a23);
        int i = k & ~7;
        var s01 = Reduce8(a00, a01, a02, a03, a10, a11, a12, a13);   // [r0t0..r0t3 r1t0..r1t3]
        var h = Avx.HorizontalAdd(Avx.HorizontalAdd(a20, a21), Avx.HorizontalAdd(a22, a23));
        var s2 = Sse.Add(h.GetLower(), h.GetUpper());                 // [r2t0..r2t3], the same lane order
        if (i == k)
        {
            y[0] = s01.GetElement(0); y[ldy] = s01.GetElement(1); y[2 * ldy] = s01.GetElement(2); y[3 * ldy] = s01.GetElement(3);
            y[1] = s01.GetElement(4); y[ldy + 1] = s01.GetElement(5); y[2 * ldy + 1] = s01.GetElement(6); y[3 * ldy + 1] = s01.GetElement(7);
            y[2] = s2.GetElement(0); y[ldy + 2] = s2.GetElement(1); y[2 * ldy + 2] = s2.GetElement(2); y[3 * ldy + 2] = s2.GetElement(3);
            return;
        }
        // A K tail: finish each output by scalar FMAs, as every other tile does.
        Avx.Store(lanes, s01);
        for (int r = 0; r < 3; r++)
            for (int t = 0; t < 4; t++)
            {
                float s = r < 2 ? lanes[r * 4 + t] : s2.GetElement(t);
                float* wr = w0 + r * (long)k, xt = x0 + t * (long)k;
                for (int j = i; j < k; j++) s = MathF.FusedMultiplyAdd(wr[j], xt[j], s);
                y[t * ldy + r] = s;
            }
    }

    /// <summary>Rows w .. w + 7k against one token: y[0..8). With <typeparamref name="P"/> on, the eight rows at
    /// <paramref name="next"/> are prefetched a cache line per row every other step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile8x1<P>(float* w, float* x, int k, float* y, float* lanes, float* next) where P : struct, IPrefetch
    {
        var a0 = Vector256<float>.Zero; var a1 = Vector256<float>.Zero; var a2 = Vector256<float>.Zero; var a3 = Vector256<float>.Zero;
        var a4 = Vector256<float>.Zero; var a5 = Vector256<float>.Zero; var a6 = Vector256<float>.Zero; var a7 = Vector256<float>.Zero;
        long k1 = k;
        int i = 0;
        for (; i + 8 <= k; i += 8)
        {
            if (P.On && (i & 15) == 0)
            {
                float* n = next + i;
                Sse.Prefetch0(n); Sse.Prefetch0(n + k1); Sse.Prefetch0(n + 2 * k1); Sse.Prefetch0(n + 3 * k1);
                Sse.Prefetch0(n + 4 * k1); Sse.Prefetch0(n + 5 * k1); Sse.Prefetch0(n + 6 * k1); Sse.Prefetch0(n + 7 * k1);
            }
            var t = Avx.LoadVector256(x + i);
            float* wi = w + i;
            a0 = Fma.MultiplyAdd(Avx.LoadVector256(wi), t, a0);
            a1 = Fma.MultiplyAdd(Avx.LoadVector256(wi + k1), t, a1);
            a2 = Fma.MultiplyAdd(Avx.LoadVector256(wi + 2 * k1), t, a2);
            a3 = Fma.MultiplyAdd(Avx.LoadVector256(wi + 3 * k1), t, a3);
            a4 = Fma.MultiplyAdd(Avx.LoadVector256(wi + 4 * k1), t, a4);
            a5 = Fma.MultiplyAdd(Avx.LoadVector256(wi + 5 * k1), t, a5);
            a6 = Fma.MultiplyAdd(Avx.LoadVector256(wi + 6 * k1), t, a6);
            a7 = Fma.MultiplyAdd(Avx.LoadVector256(wi + 7 * k1), t, a7);
        }
        var sums = Reduce8(a0, a1, a2, a3, a4, a5, a6, a7);
        if (i == k) { Avx.Store(y, sums); return; }
        Avx.Store(lanes, sums);
        for (int r = 0; r < 8; r++)
        {
            float s = lanes[r];
            float* wr = w + r * k1;
            for (int j = i; j < k; j++) s = MathF.FusedMultiplyAdd(wr[j], x[j], s);
            y[r] = s;
        }
    }
}
