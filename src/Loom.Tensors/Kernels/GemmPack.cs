using System.Runtime.CompilerServices;

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
        for (int q = q0; q < q1; q++)
        {
            int jj = q * nrFull;
            int nr = Math.Min(nrFull, nc - jj);
            float* d = dst + (nint)q * nrFull * kc;
            if (transB) PackTransposed(b + (nint)(j0 + jj) * ldb + p0, ldb, nr, kc, d, TK.NR);
            else PackStrips<TK>(b + (nint)p0 * ldb + j0 + jj, ldb, nr, kc, d, TK.NR);
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
    /// one lane of every k step. Reads stay sequential per row; the panel is small enough to sit in L1 for the
    /// strided writes. Missing lanes are zero.
    /// </summary>
    private static void PackTransposed(float* src, nint ld, int w, int kc, float* d, int width)
    {
        int r = 0;
        for (; r + 4 <= w; r += 4)
        {
            float* s0 = src + r * ld, s1 = s0 + ld, s2 = s1 + ld, s3 = s2 + ld;
            float* o = d + r;
            for (int p = 0; p < kc; p++, o += width)
            {
                o[0] = s0[p]; o[1] = s1[p]; o[2] = s2[p]; o[3] = s3[p];
            }
        }
        for (; r < w; r++)
        {
            float* s = src + r * ld;
            float* o = d + r;
            for (int p = 0; p < kc; p++, o += width) *o = s[p];
        }
        for (; r < width; r++)
        {
            float* o = d + r;
            for (int p = 0; p < kc; p++, o += width) *o = 0f;
        }
    }
}
