using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Loom.Tensors.Quant;

/// <summary>
/// Prompt-processing kernels for Q4_K and Q6_K weights: one weight row x 4 tokens per pass, so the nibble / 6-bit
/// code unpacking and the scale shuffles of each super-block are done once for four Q8_K activation rows.
/// </summary>
internal static unsafe class QuantTileK
{
    /// <summary>result[t] = dot(Q4_K row <paramref name="w"/>, Q8_K row t) for t &lt; 4; activation rows are <paramref name="aStride"/> bytes apart.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q4K1x4(byte* w, byte* a0, nint aStride, int nb, float* result, float* tab)
    {
        Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default;
        // The mins go to their own four-lane accumulators, reduced apart and added last, as ggml_vec_dot_q4_K_q8_K does.
        Vector128<float> m0 = default, m1 = default, m2 = default, m3 = default;
        byte* a1 = a0 + aStride, a2 = a1 + aStride, a3 = a2 + aStride;
        for (int i = 0; i < nb; i++, w += 144, a0 += 292, a1 += 292, a2 += 292, a3 += 292)
        {
            float dw = QuantDot.F16(tab, w), dmw = QuantDot.F16(tab, w + 2);
            var ms = Avx2.ConvertToVector256Int16(QuantDot.ScalesMinsK4(w + 4));
            m0 = Mins(m0, ms, a0, dmw);
            m1 = Mins(m1, ms, a1, dmw);
            m2 = Mins(m2, ms, a2, dmw);
            m3 = Mins(m3, ms, a3, dmw);
            var sc = ms.GetLower().AsByte();
            var scales = Vector256.Create(sc, sc);
            Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default;
            Q4KChunk(w + 16, scales, 0, a0, a1, a2, a3, ref s0, ref s1, ref s2, ref s3);
            Q4KChunk(w + 48, scales, 1, a0, a1, a2, a3, ref s0, ref s1, ref s2, ref s3);
            Q4KChunk(w + 80, scales, 2, a0, a1, a2, a3, ref s0, ref s1, ref s2, ref s3);
            Q4KChunk(w + 112, scales, 3, a0, a1, a2, a3, ref s0, ref s1, ref s2, ref s3);
            c0 = Fma.MultiplyAdd(Vector256.Create(*(float*)a0 * dw), Avx.ConvertToVector256Single(s0), c0);
            c1 = Fma.MultiplyAdd(Vector256.Create(*(float*)a1 * dw), Avx.ConvertToVector256Single(s1), c1);
            c2 = Fma.MultiplyAdd(Vector256.Create(*(float*)a2 * dw), Avx.ConvertToVector256Single(s2), c2);
            c3 = Fma.MultiplyAdd(Vector256.Create(*(float*)a3 * dw), Avx.ConvertToVector256Single(s3), c3);
        }
        result[0] = QuantDot.HSum(c0) + QuantDot.HSum(m0); result[1] = QuantDot.HSum(c1) + QuantDot.HSum(m1);
        result[2] = QuantDot.HSum(c2) + QuantDot.HSum(m2); result[3] = QuantDot.HSum(c3) + QuantDot.HSum(m3);
    }

    /// <summary>m + (-d_a * dmin_w) * (sum over sub-blocks of min * activation codes' sum), four lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Mins(Vector128<float> m, Vector256<short> ms, byte* a, float dmw)
        => Fma.MultiplyAdd(Vector128.Create(-*(float*)a * dmw), Sse2.ConvertToVector128Single(QuantDot.MinsTimesSums(ms, a + 260)), m);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q4KChunk(byte* q4, Vector256<byte> scales, int j, byte* a0, byte* a1, byte* a2, byte* a3,
        ref Vector256<int> s0, ref Vector256<int> s1, ref Vector256<int> s2, ref Vector256<int> s3)
    {
        var m4 = Vector256.Create((byte)0x0F);
        var bits = Avx.LoadVector256(q4);
        var lo = Avx2.And(bits, m4);
        var hi = Avx2.And(Avx2.ShiftRightLogical(bits.AsUInt16(), 4).AsByte(), m4);
        var sl = QuantDot.Scale16(scales, 2 * j);
        var sh = QuantDot.Scale16(scales, 2 * j + 1);
        int o = 4 + 64 * j;
        s0 = Avx2.Add(s0, Avx2.Add(Avx2.MultiplyAddAdjacent(sl, Avx2.MultiplyAddAdjacent(lo, Avx.LoadVector256((sbyte*)(a0 + o)))),
                                   Avx2.MultiplyAddAdjacent(sh, Avx2.MultiplyAddAdjacent(hi, Avx.LoadVector256((sbyte*)(a0 + o + 32))))));
        s1 = Avx2.Add(s1, Avx2.Add(Avx2.MultiplyAddAdjacent(sl, Avx2.MultiplyAddAdjacent(lo, Avx.LoadVector256((sbyte*)(a1 + o)))),
                                   Avx2.MultiplyAddAdjacent(sh, Avx2.MultiplyAddAdjacent(hi, Avx.LoadVector256((sbyte*)(a1 + o + 32))))));
        s2 = Avx2.Add(s2, Avx2.Add(Avx2.MultiplyAddAdjacent(sl, Avx2.MultiplyAddAdjacent(lo, Avx.LoadVector256((sbyte*)(a2 + o)))),
                                   Avx2.MultiplyAddAdjacent(sh, Avx2.MultiplyAddAdjacent(hi, Avx.LoadVector256((sbyte*)(a2 + o + 32))))));
        s3 = Avx2.Add(s3, Avx2.Add(Avx2.MultiplyAddAdjacent(sl, Avx2.MultiplyAddAdjacent(lo, Avx.LoadVector256((sbyte*)(a3 + o)))),
                                   Avx2.MultiplyAddAdjacent(sh, Avx2.MultiplyAddAdjacent(hi, Avx.LoadVector256((sbyte*)(a3 + o + 32))))));
    }

    /// <summary>result[t] = dot(Q6_K row <paramref name="w"/>, Q8_K row t) for t &lt; 4.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q6K1x4(byte* w, byte* a0, nint aStride, int nb, float* result, float* tab)
    {
        Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default;
        byte* a1 = a0 + aStride, a2 = a1 + aStride, a3 = a2 + aStride;
        for (int i = 0; i < nb; i++, w += 210, a0 += 292, a1 += 292, a2 += 292, a3 += 292)
        {
            float dw = QuantDot.F16(tab, w + 208);
            var scales = Sse2.LoadVector128((sbyte*)(w + 192));
            var scales16 = Avx2.ConvertToVector256Int16(scales);
            // The codes are stored +32: start each sum at -32 * scale * (sum of the 16 activation codes) per sub-block.
            var s0 = Avx2.Subtract(Vector256<int>.Zero, Avx2.ShiftLeftLogical(Avx2.MultiplyAddAdjacent(Avx.LoadVector256((short*)(a0 + 260)), scales16), 5));
            var s1 = Avx2.Subtract(Vector256<int>.Zero, Avx2.ShiftLeftLogical(Avx2.MultiplyAddAdjacent(Avx.LoadVector256((short*)(a1 + 260)), scales16), 5));
            var s2 = Avx2.Subtract(Vector256<int>.Zero, Avx2.ShiftLeftLogical(Avx2.MultiplyAddAdjacent(Avx.LoadVector256((short*)(a2 + 260)), scales16), 5));
            var s3 = Avx2.Subtract(Vector256<int>.Zero, Avx2.ShiftLeftLogical(Avx2.MultiplyAddAdjacent(Avx.LoadVector256((short*)(a3 + 260)), scales16), 5));
            for (int h = 0; h < 2; h++)
            {
                byte* ql = w + 64 * h;
                byte* qh = w + 128 + 32 * h;
                int o = 4 + 128 * h;
                int isc = 4 * h;
                Q6KGroup(Q6Codes(ql, qh, 0), QuantDot.Q6Scale(scales, isc), o, a0, a1, a2, a3, ref s0, ref s1, ref s2, ref s3);
                Q6KGroup(Q6Codes(ql, qh, 1), QuantDot.Q6Scale(scales, isc + 1), o + 32, a0, a1, a2, a3, ref s0, ref s1, ref s2, ref s3);
                Q6KGroup(Q6Codes(ql, qh, 2), QuantDot.Q6Scale(scales, isc + 2), o + 64, a0, a1, a2, a3, ref s0, ref s1, ref s2, ref s3);
                Q6KGroup(Q6Codes(ql, qh, 3), QuantDot.Q6Scale(scales, isc + 3), o + 96, a0, a1, a2, a3, ref s0, ref s1, ref s2, ref s3);
            }
            c0 = Fma.MultiplyAdd(Vector256.Create(*(float*)a0 * dw), Avx.ConvertToVector256Single(s0), c0);
            c1 = Fma.MultiplyAdd(Vector256.Create(*(float*)a1 * dw), Avx.ConvertToVector256Single(s1), c1);
            c2 = Fma.MultiplyAdd(Vector256.Create(*(float*)a2 * dw), Avx.ConvertToVector256Single(s2), c2);
            c3 = Fma.MultiplyAdd(Vector256.Create(*(float*)a3 * dw), Avx.ConvertToVector256Single(s3), c3);
        }
        result[0] = QuantDot.HSum(c0); result[1] = QuantDot.HSum(c1); result[2] = QuantDot.HSum(c2); result[3] = QuantDot.HSum(c3);
    }

    /// <summary>Group g (0..3) of 32 unsigned 6-bit codes in one 128-element half: low/high nibbles of ql[0..32) / ql[32..64), two bits of qh each.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Q6Codes(byte* ql, byte* qh, int g)
    {
        var m15 = Vector256.Create((byte)15);
        var low = Avx.LoadVector256(ql + 32 * (g & 1));
        var nib = g < 2 ? Avx2.And(low, m15) : Avx2.And(Avx2.ShiftRightLogical(low.AsUInt16(), 4).AsByte(), m15);
        var bh = Avx.LoadVector256(qh);
        var high = Avx2.And(bh, Vector256.Create((byte)(3 << (2 * g))));
        // move bits 2g..2g+1 to 4..5
        var hi4 = g switch
        {
            0 => Avx2.ShiftLeftLogical(high.AsUInt16(), 4).AsByte(),
            1 => Avx2.ShiftLeftLogical(high.AsUInt16(), 2).AsByte(),
            2 => high,
            _ => Avx2.ShiftRightLogical(high.AsUInt16(), 2).AsByte(),
        };
        return Avx2.Or(nib, hi4);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q6KGroup(Vector256<byte> q, Vector256<short> scale, int o, byte* a0, byte* a1, byte* a2, byte* a3,
        ref Vector256<int> s0, ref Vector256<int> s1, ref Vector256<int> s2, ref Vector256<int> s3)
    {
        s0 = Avx2.Add(s0, Avx2.MultiplyAddAdjacent(scale, Avx2.MultiplyAddAdjacent(q, Avx.LoadVector256((sbyte*)(a0 + o)))));
        s1 = Avx2.Add(s1, Avx2.MultiplyAddAdjacent(scale, Avx2.MultiplyAddAdjacent(q, Avx.LoadVector256((sbyte*)(a1 + o)))));
        s2 = Avx2.Add(s2, Avx2.MultiplyAddAdjacent(scale, Avx2.MultiplyAddAdjacent(q, Avx.LoadVector256((sbyte*)(a2 + o)))));
        s3 = Avx2.Add(s3, Avx2.MultiplyAddAdjacent(scale, Avx2.MultiplyAddAdjacent(q, Avx.LoadVector256((sbyte*)(a3 + o)))));
    }
}
