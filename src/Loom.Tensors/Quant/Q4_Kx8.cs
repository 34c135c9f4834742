using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Loom.Tensors.Quant;

/// <summary>
/// Q4_K weights repacked eight rows at a time, as llama.cpp repacks them for AVX2 (its q4_K_8x8 kernels), with the
/// same arithmetic as ggml_gemv_q4_K_8x8_q8_K and ggml_gemm_q4_K_8x8_q8_K: per row the exact integers Σ sc·(q·a) and
/// Σ m·(Σ a), then acc = fma(isum, d_w·d_a, acc) and accMin = fma(imin, dmin_w·d_a, accMin), and y = acc − accMin.
/// The two kernels round at different steps: the gemv (one token) once per 256-element super-block, the gemm (tokens
/// in fours) once per 64-element chunk; ggml's mul_mat gives whole fours of tokens to the gemm, the rest to the gemv.
/// (ggml_vec_dot_q4_K_q8_K, used for unrepacked rows, rounds differently again.)
/// <para>
/// Layout of one interleaved super-block (1184 bytes = 8 x 148): the eight rows' f16 d, then their f16 dmin, the
/// 6-bit scales unpacked to bytes [sub-block j][row r], the mins as bytes [chunk c][row r][2] (m of sub-blocks 2c and
/// 2c+1, the pairs vpmaddwd takes), then per 64-element chunk c eight 32-byte vectors V_s whose lane r (4 bytes) is
/// row r's nibble bytes 32c+4s..32c+4s+3: low nibbles elements 64c+4s.., high nibbles 64c+32+4s... Each 32-byte
/// load feeds all eight rows, and the scales cost no unpacking per step (4 more bytes per row than Q4_K's 144).
/// </para>
/// </summary>
internal static unsafe class Q4_Kx8
{
    /// <summary>Bytes of one interleaved super-block of eight rows.</summary>
    public const int BlockBytes = 8 * RowBlockBytes;

    /// <summary>Bytes per row and super-block in the interleaved copy.</summary>
    public const int RowBlockBytes = 148;

    private const int DminAt = 16, ScalesAt = 32, MinsAt = 96, QuantsAt = 160;

    /// <summary>Ints per super-block of <see cref="Prepare"/>'s output.</summary>
    public const int PreparedInts = 4;

    /// <summary>Size of the interleaved copy of <paramref name="rows"/> rows of <paramref name="nb"/> super-blocks.</summary>
    public static long Bytes(int rows, int nb) => (long)rows * nb * RowBlockBytes;

    /// <summary>Rewrites <paramref name="rows"/> (a multiple of 8) Q4_K rows of <paramref name="nb"/> super-blocks into the interleaved layout.</summary>
    public static void Repack(byte* src, int rows, int nb, byte* dst)
    {
        long rowBytes = (long)nb * 144;
        byte* sm = stackalloc byte[16];
        for (int g = 0; g < rows; g += 8)
        {
            byte* gs = src + g * rowBytes;
            byte* gd = dst + g / 8 * (long)nb * BlockBytes;
            for (int b = 0; b < nb; b++, gd += BlockBytes)
                for (int r = 0; r < 8; r++)
                {
                    byte* blk = gs + r * rowBytes + b * 144;
                    *(ushort*)(gd + 2 * r) = *(ushort*)blk;
                    *(ushort*)(gd + DminAt + 2 * r) = *(ushort*)(blk + 2);
                    ScalesAndMins(blk + 4, sm);
                    for (int j = 0; j < 8; j++) gd[ScalesAt + 8 * j + r] = sm[j];
                    for (int c = 0; c < 4; c++)
                    {
                        gd[MinsAt + 16 * c + 2 * r] = sm[8 + 2 * c];
                        gd[MinsAt + 16 * c + 2 * r + 1] = sm[8 + 2 * c + 1];
                        for (int s = 0; s < 8; s++) *(uint*)(gd + QuantsAt + 256 * c + 32 * s + 4 * r) = *(uint*)(blk + 16 + 32 * c + 4 * s);
                    }
                }
        }
    }

    /// <summary>get_scale_min_k4 for the eight sub-blocks: scales to sm[0..8), mins to sm[8..16).</summary>
    private static void ScalesAndMins(byte* q, byte* sm)
    {
        for (int j = 0; j < 8; j++)
        {
            if (j < 4)
            {
                sm[j] = (byte)(q[j] & 63);
                sm[8 + j] = (byte)(q[j + 4] & 63);
            }
            else
            {
                sm[j] = (byte)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
                sm[8 + j] = (byte)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
            }
        }
    }

    /// <summary>
    /// Per-token input of <see cref="Dot8"/> from a Q8_K activation row: per super-block and chunk c, the 32-element
    /// code sums of sub-blocks 2c and 2c+1 as two int16 in one int (vpmaddwd's other operand for the mins).
    /// </summary>
    public static void Prepare(byte* a, int nb, int* sums)
    {
        for (int i = 0; i < nb; i++, a += 292)
        {
            short* bs = (short*)(a + 260);
            for (int c = 0; c < 4; c++)
            {
                int lo = bs[4 * c] + bs[4 * c + 1], hi = bs[4 * c + 2] + bs[4 * c + 3];
                sums[PreparedInts * i + c] = (ushort)lo | (hi << 16);
            }
        }
    }

    /// <summary>
    /// y[r] = dot(row r of the group, Q8_K activation <paramref name="a"/>) for the eight rows of one group, rounded
    /// per super-block as ggml's gemv (one token; <see cref="Dot8x4"/> is the gemm for four).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Dot8(byte* group, int nb, byte* a, int* sums, float* y)
    {
        var acc = Vector256<float>.Zero;
        var accMin = Vector256<float>.Zero;
        var low = Vector256.Create((byte)0x0F);
        var ones = Vector256.Create((short)1);
        for (int i = 0; i < nb; i++, group += BlockBytes, a += 292)
        {
            var isum = Vector256<int>.Zero;
            var imin = Vector256<int>.Zero;
            QuantDot.PrefetchAhead(group, 3);   // the 160-byte header; each chunk below prefetches its own 256 bytes
            var da = Vector256.Create(*(float*)a);
            var scale = Avx.Multiply(HalfTile.F16.Load8((ushort*)group), da);
            var scaleMin = Avx.Multiply(HalfTile.F16.Load8((ushort*)(group + DminAt)), da);
            for (int c = 0; c < 4; c++)
            {
                byte* q = group + QuantsAt + 256 * c;
                sbyte* x = (sbyte*)(a + 4 + 64 * c);
                QuantDot.PrefetchAhead(q, 4);
                // Eight maddubs results per int16 lane stay below 8 * 2 * 15 * 128 = 30,720: no saturation.
                var lo16 = Vector256<short>.Zero;
                var hi16 = Vector256<short>.Zero;
                for (int s = 0; s < 8; s++)
                {
                    var v = Avx.LoadVector256(q + 32 * s);
                    lo16 = Avx2.Add(lo16, Avx2.MultiplyAddAdjacent(Avx2.And(v, low), Vector256.Create(*(int*)(x + 4 * s)).AsSByte()));
                    hi16 = Avx2.Add(hi16, Avx2.MultiplyAddAdjacent(Avx2.And(Avx2.ShiftRightLogical(v.AsUInt16(), 4).AsByte(), low), Vector256.Create(*(int*)(x + 32 + 4 * s)).AsSByte()));
                }
                var scLo = Avx2.ConvertToVector256Int32(group + ScalesAt + 16 * c);
                var scHi = Avx2.ConvertToVector256Int32(group + ScalesAt + 16 * c + 8);
                isum = Avx2.Add(isum, Avx2.Add(Avx2.MultiplyLow(Avx2.MultiplyAddAdjacent(lo16, ones), scLo), Avx2.MultiplyLow(Avx2.MultiplyAddAdjacent(hi16, ones), scHi)));
                var mins = Avx2.ConvertToVector256Int16(group + MinsAt + 16 * c);
                imin = Avx2.Add(imin, Avx2.MultiplyAddAdjacent(mins, Vector256.Create(sums[PreparedInts * i + c]).AsInt16()));
            }
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(isum), scale, acc);
            accMin = Fma.MultiplyAdd(Avx.ConvertToVector256Single(imin), scaleMin, accMin);
        }
        Avx.Store(y, Avx.Subtract(acc, accMin));
    }

    /// <summary>
    /// <see cref="Dot8"/> with per-chunk rounding (ggml's gemm) for four tokens at once: activation rows a + u·aStride,
    /// prepared sums at sums + u·sumsStride, outputs at y + u·yStride. Each weight vector's nibbles are split once
    /// for the four tokens; the results equal four <see cref="Dot8"/> calls bit for bit.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Dot8x4(byte* group, int nb, byte* a, nint aStride, int* sums, nint sumsStride, float* y, nint yStride)
    {
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        Vector256<float> min0 = default, min1 = default, min2 = default, min3 = default;
        var low = Vector256.Create((byte)0x0F);
        var ones = Vector256.Create((short)1);
        byte* a1 = a + aStride, a2 = a1 + aStride, a3 = a2 + aStride;
        for (int i = 0; i < nb; i++, group += BlockBytes, a += 292, a1 += 292, a2 += 292, a3 += 292)
        {
            var dw = HalfTile.F16.Load8((ushort*)group);
            var dmin = HalfTile.F16.Load8((ushort*)(group + DminAt));
            var s0 = Avx.Multiply(dw, Vector256.Create(*(float*)a)); var m0 = Avx.Multiply(dmin, Vector256.Create(*(float*)a));
            var s1 = Avx.Multiply(dw, Vector256.Create(*(float*)a1)); var m1 = Avx.Multiply(dmin, Vector256.Create(*(float*)a1));
            var s2 = Avx.Multiply(dw, Vector256.Create(*(float*)a2)); var m2 = Avx.Multiply(dmin, Vector256.Create(*(float*)a2));
            var s3 = Avx.Multiply(dw, Vector256.Create(*(float*)a3)); var m3 = Avx.Multiply(dmin, Vector256.Create(*(float*)a3));
            int* p = sums + PreparedInts * i;
            for (int c = 0; c < 4; c++)
            {
                byte* q = group + QuantsAt + 256 * c;
                int o = 4 + 64 * c;
                Vector256<short> l0 = default, l1 = default, l2 = default, l3 = default;
                Vector256<short> h0 = default, h1 = default, h2 = default, h3 = default;
                for (int k = 0; k < 8; k++)
                {
                    var v = Avx.LoadVector256(q + 32 * k);
                    var lo = Avx2.And(v, low);
                    var hi = Avx2.And(Avx2.ShiftRightLogical(v.AsUInt16(), 4).AsByte(), low);
                    int ol = o + 4 * k, oh = ol + 32;
                    l0 = Avx2.Add(l0, Avx2.MultiplyAddAdjacent(lo, Vector256.Create(*(int*)(a + ol)).AsSByte()));
                    h0 = Avx2.Add(h0, Avx2.MultiplyAddAdjacent(hi, Vector256.Create(*(int*)(a + oh)).AsSByte()));
                    l1 = Avx2.Add(l1, Avx2.MultiplyAddAdjacent(lo, Vector256.Create(*(int*)(a1 + ol)).AsSByte()));
                    h1 = Avx2.Add(h1, Avx2.MultiplyAddAdjacent(hi, Vector256.Create(*(int*)(a1 + oh)).AsSByte()));
                    l2 = Avx2.Add(l2, Avx2.MultiplyAddAdjacent(lo, Vector256.Create(*(int*)(a2 + ol)).AsSByte()));
                    h2 = Avx2.Add(h2, Avx2.MultiplyAddAdjacent(hi, Vector256.Create(*(int*)(a2 + oh)).AsSByte()));
                    l3 = Avx2.Add(l3, Avx2.MultiplyAddAdjacent(lo, Vector256.Create(*(int*)(a3 + ol)).AsSByte()));
                    h3 = Avx2.Add(h3, Avx2.MultiplyAddAdjacent(hi, Vector256.Create(*(int*)(a3 + oh)).AsSByte()));
                }
                var scLo = Avx2.ConvertToVector256Int32(group + ScalesAt + 16 * c);
                var scHi = Avx2.ConvertToVector256Int32(group + ScalesAt + 16 * c + 8);
                var mins = Avx2.ConvertToVector256Int16(group + MinsAt + 16 * c);
                acc0 = Chunk(acc0, l0, h0, scLo, scHi, ones, s0);
                acc1 = Chunk(acc1, l1, h1, scLo, scHi, ones, s1);
                acc2 = Chunk(acc2, l2, h2, scLo, scHi, ones, s2);
                acc3 = Chunk(acc3, l3, h3, scLo, scHi, ones, s3);
                min0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(mins, Vector256.Create(p[c]).AsInt16())), m0, min0);
                min1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(mins, Vector256.Create(p[sumsStride + c]).AsInt16())), m1, min1);
                min2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(mins, Vector256.Create(p[2 * sumsStride + c]).AsInt16())), m2, min2);
                min3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(mins, Vector256.Create(p[3 * sumsStride + c]).AsInt16())), m3, min3);
            }
        }
        Avx.Store(y, Avx.Subtract(acc0, min0));
        Avx.Store(y + yStride, Avx.Subtract(acc1, min1));
        Avx.Store(y + 2 * yStride, Avx.Subtract(acc2, min2));
        Avx.Store(y + 3 * yStride, Avx.Subtract(acc3, min3));
    }

    /// <summary>acc + (Σ sc·dot of one 64-element chunk, exact) · scale.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Chunk(Vector256<float> acc, Vector256<short> lo16, Vector256<short> hi16, Vector256<int> scLo, Vector256<int> scHi, Vector256<short> ones, Vector256<float> scale)
    {
        var isum = Avx2.Add(Avx2.MultiplyLow(Avx2.MultiplyAddAdjacent(lo16, ones), scLo), Avx2.MultiplyLow(Avx2.MultiplyAddAdjacent(hi16, ones), scHi));
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(isum), scale, acc);
    }
}
