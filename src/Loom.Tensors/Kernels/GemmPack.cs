using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Loom.Tensors.Kernels;

/// <summary>
/// Packing of op(A) and op(B) blocks into the panel layout the micro-kernels read: transposes are resolved here,
/// so every kernel sees one layout and streams its panels with unit stride. Partial panels are zero-padded.
/// </summary>
internal static unsafe class GemmPack
{
    /// <summary>Packs rows [i0, i0+mc) x columns [p0, p0+kc) of op(A) into MR-row panels (MR floats per k step).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackA<TK>(bool transA, float* a, nint lda, int i0, int mc, int p0, int kc, float* dst)
        where TK : struct, IGemmMicroKernel
    {
        int mrFull = TK.MR;
        for (int ip = 0; ip < mc; ip += mrFull, dst += (nint)mrFull * kc)
        {
            int mr = Math.Min(mrFull, mc - ip);
            if (transA) PackStrips<TK>(a + (nint)p0 * lda + i0 + ip, lda, mr, kc, dst, TK.MR);
            else PackTransposed(a + (nint)(i0 + ip) * lda + p0, lda, mr, kc, dst, TK.MR);
        }
    }

    /// <summary>Packs panels [q0, q1) (NR columns each) of rows [p0, p0+kc) x columns [j0, j0+nc) of op(B).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackB<TK>(bool transB, float* b, nint ldb, int p0, int kc, int j0, int nc, int q0, int q1, float* dst)
        where TK : struct, IGemmMicroKernel
    {
        int nrFull = TK.NR;
        if (!transB)
        {
            // Rows of B are long and far apart (ldb floats): walk groups of 8 panels row by row, so each row is
            // read as one 8 x NR run instead of touching kc distant rows for every single panel.
            for (int g = q0; g < q1; g += 8)
            {
                int gEnd = Math.Min(q1, g + 8);
                int full = gEnd;
                while (full > g && (full - 1) * nrFull + nrFull > nc) full--; // panels with all NR columns
                float* src = b + (nint)p0 * ldb + j0;
                for (int p = 0; p < kc; p++, src += ldb)
                {
                    for (int q = g; q < full; q++)
                        Unsafe.CopyBlockUnaligned(dst + ((nint)q * kc + p) * nrFull, src + q * nrFull, (uint)(TK.NR * sizeof(float)));
                }
                for (int q = full; q < gEnd; q++)
                {
                    int jj = q * nrFull;
                    PackStrips<TK>(b + (nint)p0 * ldb + j0 + jj, ldb, nc - jj, kc, dst + (nint)q * nrFull * kc, TK.NR);
                }
            }
            return;
        }
        for (int q = q0; q < q1; q++)
        {
            int jj = q * nrFull;
            int nr = Math.Min(nrFull, nc - jj);
            PackTransposed(b + (nint)(j0 + jj) * ldb + p0, ldb, nr, kc, dst + (nint)q * nrFull * kc, TK.NR);
        }
    }

    [ThreadStatic] private static float[]? _decoded;

    /// <summary>
    /// <see cref="PackB{TK}"/> for op(B) = Bᵀ with B's rows encoded (<see cref="EncodedRows"/>): each panel's rows are
    /// decoded for [p0, p0+kc) into a small scratch block, then transposed into the panel like float rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackBEncoded<TK>(in EncodedRows b, int p0, int kc, int j0, int nc, int q0, int q1, float* dst)
        where TK : struct, IGemmMicroKernel
    {
        int nrFull = TK.NR;
        var scratch = _decoded;
        if (scratch == null || scratch.Length < nrFull * kc) _decoded = scratch = GC.AllocateUninitializedArray<float>(nrFull * kc, pinned: true);
        fixed (float* tmp = scratch)
        {
            for (int q = q0; q < q1; q++)
            {
                int jj = q * nrFull;
                int nr = Math.Min(nrFull, nc - jj);
                for (int r = 0; r < nr; r++) b.Decode(j0 + jj + r, p0, kc, tmp + (nint)r * kc);
                PackTransposed(tmp, kc, nr, kc, dst + (nint)q * nrFull * kc, TK.NR);
            }
        }
    }

    /// <summary>
    /// Source already has the panel's width contiguous per k step (A^T or B): copy <paramref name="w"/> floats per
    /// step, zero-padding to <paramref name="width"/>. The full-width copy has a JIT-time constant size, so it unrolls.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PackStrips<TK>(float* src, nint ld, int w, int kc, float* d, int width)
        where TK : struct, IGemmMicroKernel
    {
        if (w == width)
        {
            for (int p = 0; p < kc; p++, src += ld, d += width)
            {
                if (width == TK.NR) Unsafe.CopyBlockUnaligned(d, src, (uint)(TK.NR * sizeof(float)));
                else Unsafe.CopyBlockUnaligned(d, src, (uint)(TK.MR * sizeof(float)));
            }
            return;
        }
        for (int p = 0; p < kc; p++, src += ld, d += width)
        {
            int i = 0;
            for (; i < w; i++) d[i] = src[i];
            for (; i < width; i++) d[i] = 0f;
        }
    }

    /// <summary>
    /// Source has the panel's width across rows (A or B^T): each of the <paramref name="w"/> source rows becomes
    /// one lane of every k step. Full panels on AVX go through 8x8 register transposes (8 loads and 8 stores per
    /// 64 floats instead of 64 scalar moves); the rest, and the k tail, take the scalar loop. Missing lanes are zero.
    /// </summary>
    private static void PackTransposed(float* src, nint ld, int w, int kc, float* d, int width)
    {
        int p0 = 0;
        if (Avx.IsSupported && w == width && kc >= 8)
        {
            p0 = kc & ~7;
            for (int g = 0; g < width; g += 8) TransposeGroup(src + g * ld, ld, Math.Min(8, width - g), p0, d + g, width);
        }
        if (p0 == kc) return;
        int r = 0;
        for (; r < w; r++)
        {
            float* s = src + r * ld;
            float* o = d + r + (nint)p0 * width;
            for (int p = p0; p < kc; p++, o += width) *o = s[p];
        }
        for (; r < width; r++)
        {
            float* o = d + r + (nint)p0 * width;
            for (int p = p0; p < kc; p++, o += width) *o = 0f;
        }
    }

    /// <summary>
    /// Up to 8 source rows (<paramref name="rows"/> of 4, 6 or 8) times the first <paramref name="kc"/> (a multiple
    /// of 8) columns: writes lanes [0, rows) of each k step. Absent rows are read as zeros.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransposeGroup(float* src, nint ld, int rows, int kc, float* d, int width)
    {
        var zero = Vector256<float>.Zero;
        float* s0 = src, s1 = src + ld, s2 = src + 2 * ld, s3 = src + 3 * ld;
        float* s4 = src + 4 * ld, s5 = src + 5 * ld, s6 = src + 6 * ld, s7 = src + 7 * ld;
        for (int p = 0; p < kc; p += 8)
        {
            var r0 = Avx.LoadVector256(s0 + p); var r1 = Avx.LoadVector256(s1 + p);
            var r2 = Avx.LoadVector256(s2 + p); var r3 = Avx.LoadVector256(s3 + p);
            var r4 = rows > 4 ? Avx.LoadVector256(s4 + p) : zero; var r5 = rows > 5 ? Avx.LoadVector256(s5 + p) : zero;
            var r6 = rows > 6 ? Avx.LoadVector256(s6 + p) : zero; var r7 = rows > 7 ? Avx.LoadVector256(s7 + p) : zero;
            var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
            var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
            var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
            var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
            var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
            var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
            var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
            var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
            float* o = d + (nint)p * width;
            Store(Avx.Permute2x128(u0, u4, 0x20), o, rows);
            Store(Avx.Permute2x128(u1, u5, 0x20), o + width, rows);
            Store(Avx.Permute2x128(u2, u6, 0x20), o + 2 * width, rows);
            Store(Avx.Permute2x128(u3, u7, 0x20), o + 3 * width, rows);
            Store(Avx.Permute2x128(u0, u4, 0x31), o + 4 * width, rows);
            Store(Avx.Permute2x128(u1, u5, 0x31), o + 5 * width, rows);
            Store(Avx.Permute2x128(u2, u6, 0x31), o + 6 * width, rows);
            Store(Avx.Permute2x128(u3, u7, 0x31), o + 7 * width, rows);
        }
    }

    /// <summary>Stores the first <paramref name="rows"/> (4, 6 or 8) lanes, never touching the lanes after them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector256<float> v, float* o, int rows)
    {
        if (rows == 8)
        {
            Avx.Store(o, v);
            return;
        }
        Sse.Store(o, v.GetLower());
        if (rows == 6) *(ulong*)(o + 4) = v.GetUpper().AsUInt64().ToScalar();
    }
}
