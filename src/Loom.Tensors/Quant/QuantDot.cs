using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Loom.Tensors.Quant;

/// <summary>
/// Fused dot products of one quantized weight row with one quantized activation row, as ggml's
/// ggml_vec_dot_*_q8_* do on x86: integer products of 8-bit codes with vpmaddubsw / vpmaddwd (the sign trick for
/// signed x signed), one float multiply-add per block with the two block scales. Types without an AVX2 kernel
/// (or machines without AVX2) decode both rows to f32 and take a plain dot product.
/// </summary>
internal static unsafe class QuantDot
{
    /// <summary>Whether <paramref name="type"/> has an integer AVX2 kernel on this machine.</summary>
    public static bool HasFusedKernel(GgmlType type) => Avx2.IsSupported && Fma.IsSupported && type is
        GgmlType.Q8_0 or GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1 or GgmlType.Q2_K or GgmlType.Q3_K
        or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K;

    /// <summary>dot(weight row, activation row) over <paramref name="k"/> elements; the activation is in <see cref="ActivationQuant.DotType"/> of <paramref name="type"/>.</summary>
    public static float Dot(GgmlType type, byte* w, byte* a, int k) => Dot(type, w, a, k, F16Table);

    /// <summary><see cref="Dot(GgmlType, byte*, byte*, int)"/> with the f16 table passed in (hot loops).</summary>
    public static float Dot(GgmlType type, byte* w, byte* a, int k, float* tab) => type switch
    {
        GgmlType.Q8_0 => Q8_0(w, a, k / 32, tab),
        GgmlType.Q4_0 => Q4_0(w, a, k / 32, tab),
        GgmlType.Q4_1 => Q4_1(w, a, k / 32, tab),
        GgmlType.Q5_0 => Q5_0(w, a, k / 32, tab),
        GgmlType.Q5_1 => Q5_1(w, a, k / 32, tab),
        GgmlType.Q2_K => Q2_K(w, a, k / 256, tab),
        GgmlType.Q3_K => Q3_K(w, a, k / 256, tab),
        GgmlType.Q4_K => Q4_K(w, a, k / 256, tab),
        GgmlType.Q5_K => Q5_K(w, a, k / 256, tab),
        GgmlType.Q6_K => Q6_K(w, a, k / 256, tab),
        _ => throw new NotSupportedException($"no fused dot kernel for {type}"),
    };

    /// <summary>All 65536 f16 values as f32 (256 KiB): a scale conversion is one load, where the bit-twiddling
    /// conversion costs about ten scalar instructions per block (.NET has no F16C intrinsic). Block scales of one
    /// matrix span a narrow exponent range, so the lines in use stay cached.</summary>
    internal static readonly float* F16Table = BuildF16Table();

    private static float* BuildF16Table()
    {
        var t = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(65536 * sizeof(float), 64);
        for (int i = 0; i < 65536; i++) t[i] = (float)BitConverter.UInt16BitsToHalf((ushort)i);
        return t;
    }

    /// <summary>The f16 at <paramref name="p"/> as f32 (exact), through <paramref name="tab"/> = <see cref="F16Table"/>. Kernels take the
    /// table as an argument: reading the static inside a loop would leave a class-initialization check (a possible
    /// call) there, and the JIT then keeps the vector accumulators on the stack.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float F16(float* tab, byte* p) => tab[*(ushort*)p];

    /// <summary>Signed 8-bit x signed 8-bit products summed in groups of four: |x| * sign(y, x) through vpmaddubsw, then vpmaddwd with ones.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> DotI8(Vector256<sbyte> x, Vector256<sbyte> y)
    {
        var p16 = Avx2.MultiplyAddAdjacent(Avx2.Abs(x), Avx2.Sign(y, x));
        return Avx2.MultiplyAddAdjacent(p16, Vector256.Create((short)1));
    }

    /// <summary>Unsigned 8-bit x signed 8-bit products summed in groups of four.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> DotU8(Vector256<byte> x, Vector256<sbyte> y)
        => Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(x, y), Vector256.Create((short)1));

    /// <summary>32 nibbles: low nibbles of 16 bytes then their high nibbles, each in [0, 15].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Nibbles32(byte* p)
    {
        var lo = Sse2.LoadVector128(p);
        var hi = Sse2.ShiftRightLogical(lo.AsUInt16(), 4).AsByte();
        return Avx2.And(Vector256.Create(lo, hi), Vector256.Create((byte)0x0F));
    }

    /// <summary>0xFF in byte j where bit j of the 32-bit word at <paramref name="p"/> is set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> BytesFromBits32(byte* p)
    {
        var x = Vector256.Create(*(uint*)p).AsByte();
        var shuf = Vector256.Create(0x0000000000000000UL, 0x0101010101010101UL, 0x0202020202020202UL, 0x0303030303030303UL).AsByte();
        var bytes = Avx2.Or(Avx2.Shuffle(x, shuf), Vector256.Create(0x7fbfdfeff7fbfdfeUL).AsByte());
        return Avx2.CompareEqual(bytes, Vector256<byte>.AllBitsSet);
    }

    /// <summary>Sum of the 8 lanes in ggml's order (hsum_float_8): (hi + lo), then lanes 0+2 and 1+3, then those two.
    /// Vector256.Sum adds in another order, which moves results by an ulp and, through the f16 scale of the next
    /// layer's activation blocks, can flip a quantization step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HSum(Vector256<float> x) => HSum(Sse.Add(x.GetUpper(), x.GetLower()));

    /// <summary>Sum of the 4 lanes in ggml's order: (0 + 2) + (1 + 3), as x + movehl(x), then add_ss with movehdup.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HSum(Vector128<float> x)
    {
        x = Sse.Add(x, Sse.MoveHighToLow(x, x));
        return Sse.AddScalar(x, Sse3.MoveHighAndDuplicate(x)).ToScalar();
    }

    /// <summary>
    /// How far ahead of the block being read the row kernels prefetch weights, in bytes. A one-token matmul streams the
    /// weights once; its single FMA chain per row leaves few loads in flight, and the hardware prefetcher alone left the
    /// Q8_0 dot at 21.5 GB/s on this VM's two cores, 25.3 with a prefetch 2 KiB ahead (1 KiB: 24.2, 3 KiB: 25.0;
    /// 8192 x 2048 matrices, 142 MB cycled). Four rows at a time with independent chains was slower (17.6). The
    /// interleaved Q4_0 gemv gains as much: the 1B Q4_0 file generated 26.2-26.7 tokens/s without, 28.8-32.4 with;
    /// the K-quants too (medians of 3, Loom only): Q4_K (interleaved gemv) 23.4 -> 26.8, Q6_K 16.3 -> 19.2 tokens/s.
    /// Prefetching past the last row is harmless: a prefetch never faults.
    /// </summary>
    internal const int WeightPrefetchBytes = 2048;

    /// <summary>
    /// Prefetches the <paramref name="lines"/> (1 to 4) cache lines that start <see cref="WeightPrefetchBytes"/> past
    /// <paramref name="block"/>. Called with a constant count, so the inlined tests fold away.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void PrefetchAhead(byte* block, int lines)
    {
        byte* p = block + WeightPrefetchBytes;
        Sse.Prefetch0(p);
        if (lines > 1) Sse.Prefetch0(p + 64);
        if (lines > 2) Sse.Prefetch0(p + 128);
        if (lines > 3) Sse.Prefetch0(p + 192);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q8_0(byte* w, byte* a, int nb, float* tab)
    {
        var acc = Vector256<float>.Zero;
        for (int i = 0; i < nb; i++, w += 34, a += 34)
        {
            PrefetchAhead(w, 1);
            var d = Vector256.Create(F16(tab, w) * F16(tab, a));
            var s = DotI8(Avx.LoadVector256((sbyte*)(w + 2)), Avx.LoadVector256((sbyte*)(a + 2)));
            acc = Fma.MultiplyAdd(d, Avx.ConvertToVector256Single(s), acc);
        }
        return HSum(acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q4_0(byte* w, byte* a, int nb, float* tab)
    {
        var acc = Vector256<float>.Zero;
        for (int i = 0; i < nb; i++, w += 18, a += 34)
        {
            var d = Vector256.Create(F16(tab, w) * F16(tab, a));
            var qx = Avx2.Subtract(Nibbles32(w + 2), Vector256.Create((byte)8)).AsSByte();
            var s = DotI8(qx, Avx.LoadVector256((sbyte*)(a + 2)));
            acc = Fma.MultiplyAdd(d, Avx.ConvertToVector256Single(s), acc);
        }
        return HSum(acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q4_1(byte* w, byte* a, int nb, float* tab)
    {
        var acc = Vector256<float>.Zero;
        float summs = 0;
        for (int i = 0; i < nb; i++, w += 20, a += 36)
        {
            summs = MathF.FusedMultiplyAdd(F16(tab, w + 2), F16(tab, a + 2), summs);   // ggml: vfmadd231ss
            var d = Vector256.Create(F16(tab, w) * F16(tab, a));
            var s = DotU8(Nibbles32(w + 4), Avx.LoadVector256((sbyte*)(a + 4)));
            acc = Fma.MultiplyAdd(d, Avx.ConvertToVector256Single(s), acc);
        }
        return HSum(acc) + summs;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q5_0(byte* w, byte* a, int nb, float* tab)
    {
        var acc = Vector256<float>.Zero;
        for (int i = 0; i < nb; i++, w += 22, a += 34)
        {
            var d = Vector256.Create(F16(tab, w) * F16(tab, a));
            // Without the fifth bit a code is nibble - 16: setting the top four bits of the byte does that in int8.
            var hi = Avx2.AndNot(BytesFromBits32(w + 2), Vector256.Create((byte)0xF0));
            var qx = Avx2.Or(Nibbles32(w + 6), hi).AsSByte();
            var s = DotI8(qx, Avx.LoadVector256((sbyte*)(a + 2)));
            acc = Fma.MultiplyAdd(d, Avx.ConvertToVector256Single(s), acc);
        }
        return HSum(acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q5_1(byte* w, byte* a, int nb, float* tab)
    {
        var acc = Vector256<float>.Zero;
        float summs = 0;
        for (int i = 0; i < nb; i++, w += 24, a += 36)
        {
            summs = MathF.FusedMultiplyAdd(F16(tab, w + 2), F16(tab, a + 2), summs);   // ggml: vfmadd231ss
            var d = Vector256.Create(F16(tab, w) * F16(tab, a));
            var hi = Avx2.And(BytesFromBits32(w + 4), Vector256.Create((byte)0x10));
            var s = DotU8(Avx2.Or(Nibbles32(w + 8), hi), Avx.LoadVector256((sbyte*)(a + 4)));
            acc = Fma.MultiplyAdd(d, Avx.ConvertToVector256Single(s), acc);
        }
        return HSum(acc) + summs;
    }

    /// <summary>Q4_K/Q5_K: the eight 6-bit sub-block scales (bytes 0..7) and mins (bytes 8..15) unpacked from the 12 packed bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<byte> ScalesMinsK4(byte* packed)
    {
        const uint kmask1 = 0x3f3f3f3f, kmask2 = 0x0f0f0f0f, kmask3 = 0x03030303;
        uint u0 = *(uint*)packed, u1 = *(uint*)(packed + 4), u2 = *(uint*)(packed + 8);
        uint u3 = ((u2 >> 4) & kmask2) | (((u1 >> 6) & kmask3) << 4);
        uint uaux = u1 & kmask1;
        u1 = (u2 & kmask2) | (((u0 >> 6) & kmask3) << 4);
        u2 = uaux;
        u0 &= kmask1;
        return Vector128.Create(u0, u1, u2, u3).AsByte(); // scales 0..3, 4..7, then mins 0..3, 4..7
    }

    /// <summary>Sum over sub-blocks of min * (sum of the 32 activation codes), from Q8_K's 16-element sums; 4 int32 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<int> MinsTimesSums(Vector256<short> minsAndScales, byte* bsums)
    {
        var q8sums = Avx.LoadVector256((short*)bsums);
        var q8s = Ssse3.HorizontalAdd(q8sums.GetLower(), q8sums.GetUpper());
        return Sse2.MultiplyAddAdjacent(minsAndScales.GetUpper(), q8s);
    }

    /// <summary>
    /// Spreads two 16-bit scales over a 32-element group for vpmaddwd: scale 2k of <paramref name="scales"/> (eight int16,
    /// both halves alike) over the low 128-bit lane (elements 0..15), scale 2k+1 over the high lane (16..31).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> ScalePair(Vector256<byte> scales, int k)
    {
        int a = 4 * k, b = 4 * k + 2;
        var mask = Vector256.Create(Vector128.Create((ushort)(a | ((a + 1) << 8))), Vector128.Create((ushort)(b | ((b + 1) << 8)))).AsByte();
        return Avx2.Shuffle(scales, mask).AsInt16();
    }

    /// <summary>128 elements of a Q2_K block: 2-bit codes at shifts 0, 2, 4, 6 of 32 bytes, sixteen-element scales from <paramref name="scales"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Q2KHalf(byte* q2, sbyte* q8, Vector256<byte> scales)
    {
        var m3 = Vector256.Create((byte)3);
        var bits = Avx.LoadVector256(q2).AsUInt16();
        var p0 = Avx2.MultiplyAddAdjacent(Avx2.And(bits.AsByte(), m3), Avx.LoadVector256(q8));
        var p1 = Avx2.MultiplyAddAdjacent(Avx2.And(Avx2.ShiftRightLogical(bits, 2).AsByte(), m3), Avx.LoadVector256(q8 + 32));
        var p2 = Avx2.MultiplyAddAdjacent(Avx2.And(Avx2.ShiftRightLogical(bits, 4).AsByte(), m3), Avx.LoadVector256(q8 + 64));
        var p3 = Avx2.MultiplyAddAdjacent(Avx2.And(Avx2.ShiftRightLogical(bits, 6).AsByte(), m3), Avx.LoadVector256(q8 + 96));
        var s0 = Avx2.MultiplyAddAdjacent(ScalePair(scales, 0), p0);
        var s1 = Avx2.MultiplyAddAdjacent(ScalePair(scales, 1), p1);
        var s2 = Avx2.MultiplyAddAdjacent(ScalePair(scales, 2), p2);
        var s3 = Avx2.MultiplyAddAdjacent(ScalePair(scales, 3), p3);
        return Avx2.Add(Avx2.Add(s0, s1), Avx2.Add(s2, s3));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q2_K(byte* w, byte* a, int nb, float* tab)
    {
        var acc = Vector256<float>.Zero;
        var m4 = Vector128.Create((byte)0x0F);
        for (int i = 0; i < nb; i++, w += 84, a += 292)
        {
            float ad = *(float*)a;
            float d = ad * F16(tab, w + 80);
            float dmin = -ad * F16(tab, w + 82);
            var packed = Sse2.LoadVector128(w);  // low nibble: scale, high nibble: min, per 16 elements
            var mins = Avx2.ConvertToVector256Int16(Sse2.And(Sse2.ShiftRightLogical(packed.AsUInt16(), 4).AsByte(), m4));
            var prod = Avx2.MultiplyAddAdjacent(mins, Avx.LoadVector256((short*)(a + 260)));
            acc = Fma.MultiplyAdd(Vector256.Create(dmin), Avx.ConvertToVector256Single(prod), acc);
            var all = Avx2.ConvertToVector256Int16(Sse2.And(packed, m4)).AsByte();
            var lo = all.GetLower();
            var hi = all.GetUpper();
            sbyte* q8 = (sbyte*)(a + 4);
            var sumi = Avx2.Add(Q2KHalf(w + 16, q8, Vector256.Create(lo, lo)), Q2KHalf(w + 48, q8 + 128, Vector256.Create(hi, hi)));
            acc = Fma.MultiplyAdd(Vector256.Create(d), Avx.ConvertToVector256Single(sumi), acc);
        }
        return HSum(acc);
    }

    /// <summary>128 elements of a Q3_K block: 2-bit codes as Q2_K, minus 4 where the hmask bit (bits 4h..4h+3) is clear.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Q3KHalf(byte* q3, Vector256<byte> hbits, int firstBit, sbyte* q8, Vector256<byte> scales)
    {
        var m3 = Vector256.Create((byte)3);
        var four = Vector256.Create((byte)4);
        var bits = Avx.LoadVector256(q3).AsUInt16();
        var y0 = Avx.LoadVector256(q8);
        var y1 = Avx.LoadVector256(q8 + 32);
        var y2 = Avx.LoadVector256(q8 + 64);
        var y3 = Avx.LoadVector256(q8 + 96);
        // maddubs needs unsigned codes: multiply the low 2 bits and the "4 if the high bit is clear" part separately.
        var h0 = Avx2.And(Avx2.CompareEqual(Avx2.And(hbits, Vector256.Create((byte)(1 << firstBit))), Vector256<byte>.Zero), four);
        var h1 = Avx2.And(Avx2.CompareEqual(Avx2.And(hbits, Vector256.Create((byte)(2 << firstBit))), Vector256<byte>.Zero), four);
        var h2 = Avx2.And(Avx2.CompareEqual(Avx2.And(hbits, Vector256.Create((byte)(4 << firstBit))), Vector256<byte>.Zero), four);
        var h3 = Avx2.And(Avx2.CompareEqual(Avx2.And(hbits, Vector256.Create((byte)(8 << firstBit))), Vector256<byte>.Zero), four);
        var p0 = Avx2.Subtract(Avx2.MultiplyAddAdjacent(Avx2.And(bits.AsByte(), m3), y0), Avx2.MultiplyAddAdjacent(h0, y0));
        var p1 = Avx2.Subtract(Avx2.MultiplyAddAdjacent(Avx2.And(Avx2.ShiftRightLogical(bits, 2).AsByte(), m3), y1), Avx2.MultiplyAddAdjacent(h1, y1));
        var p2 = Avx2.Subtract(Avx2.MultiplyAddAdjacent(Avx2.And(Avx2.ShiftRightLogical(bits, 4).AsByte(), m3), y2), Avx2.MultiplyAddAdjacent(h2, y2));
        var p3 = Avx2.Subtract(Avx2.MultiplyAddAdjacent(Avx2.And(Avx2.ShiftRightLogical(bits, 6).AsByte(), m3), y3), Avx2.MultiplyAddAdjacent(h3, y3));
        var s0 = Avx2.MultiplyAddAdjacent(ScalePair(scales, 0), p0);
        var s1 = Avx2.MultiplyAddAdjacent(ScalePair(scales, 1), p1);
        var s2 = Avx2.MultiplyAddAdjacent(ScalePair(scales, 2), p2);
        var s3 = Avx2.MultiplyAddAdjacent(ScalePair(scales, 3), p3);
        return Avx2.Add(Avx2.Add(s0, s1), Avx2.Add(s2, s3));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q3_K(byte* w, byte* a, int nb, float* tab)
    {
        const uint kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
        var acc = Vector256<float>.Zero;
        for (int i = 0; i < nb; i++, w += 110, a += 292)
        {
            float d = *(float*)a * F16(tab, w + 108);
            uint a0 = *(uint*)(w + 96), a1 = *(uint*)(w + 100), a2 = *(uint*)(w + 104);
            var sc = Vector128.Create(
                (a0 & kmask2) | (((a2 >> 0) & kmask1) << 4),
                (a1 & kmask2) | (((a2 >> 2) & kmask1) << 4),
                ((a0 >> 4) & kmask2) | (((a2 >> 4) & kmask1) << 4),
                ((a1 >> 4) & kmask2) | (((a2 >> 6) & kmask1) << 4)).AsSByte();
            sc = Sse2.Subtract(sc, Vector128.Create((sbyte)32));
            var all = Avx2.ConvertToVector256Int16(sc).AsByte();
            var lo = all.GetLower();
            var hi = all.GetUpper();
            var hbits = Avx.LoadVector256(w);
            sbyte* q8 = (sbyte*)(a + 4);
            var sumi = Avx2.Add(Q3KHalf(w + 32, hbits, 0, q8, Vector256.Create(lo, lo)), Q3KHalf(w + 64, hbits, 4, q8 + 128, Vector256.Create(hi, hi)));
            acc = Fma.MultiplyAdd(Vector256.Create(d), Avx.ConvertToVector256Single(sumi), acc);
        }
        return HSum(acc);
    }

    /// <summary>Broadcasts 16-bit scale <paramref name="i"/> (0..7) of <paramref name="scales"/> (both halves hold the eight scales) to all lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<short> Scale16(Vector256<byte> scales, int i)
    {
        byte lo = (byte)(2 * i), hi = (byte)(2 * i + 1);
        var mask = Vector256.Create((ushort)(lo | (hi << 8))).AsByte();
        return Avx2.Shuffle(scales, mask).AsInt16();
    }

    /// <summary>One 64-element chunk of a Q4_K block: low nibbles x the first 32 activations, high x the next 32, each under its scale.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Q4KChunk(byte* q4, sbyte* q8, Vector256<byte> scales, int j)
    {
        var m4 = Vector256.Create((byte)0x0F);
        var bits = Avx.LoadVector256(q4);
        var p16l = Avx2.MultiplyAddAdjacent(Avx2.And(bits, m4), Avx.LoadVector256(q8));
        var p16h = Avx2.MultiplyAddAdjacent(Avx2.And(Avx2.ShiftRightLogical(bits.AsUInt16(), 4).AsByte(), m4), Avx.LoadVector256(q8 + 32));
        return Avx2.Add(Avx2.MultiplyAddAdjacent(Scale16(scales, 2 * j), p16l), Avx2.MultiplyAddAdjacent(Scale16(scales, 2 * j + 1), p16h));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q4_K(byte* w, byte* a, int nb, float* tab)
    {
        var acc = Vector256<float>.Zero;
        var accM = Vector128<float>.Zero;
        for (int i = 0; i < nb; i++, w += 144, a += 292)
        {
            PrefetchAhead(w, 3);   // 144-byte blocks
            float ad = *(float*)a;
            float d = ad * F16(tab, w);
            float dmin = -ad * F16(tab, w + 2);
            var ms = Avx2.ConvertToVector256Int16(ScalesMinsK4(w + 4));
            accM = Fma.MultiplyAdd(Vector128.Create(dmin), Sse2.ConvertToVector128Single(MinsTimesSums(ms, a + 260)), accM);
            var sc = ms.GetLower().AsByte();
            var scales = Vector256.Create(sc, sc);
            byte* q4 = w + 16;
            sbyte* q8 = (sbyte*)(a + 4);
            var sumi = Avx2.Add(Avx2.Add(Q4KChunk(q4, q8, scales, 0), Q4KChunk(q4 + 32, q8 + 64, scales, 1)),
                                Avx2.Add(Q4KChunk(q4 + 64, q8 + 128, scales, 2), Q4KChunk(q4 + 96, q8 + 192, scales, 3)));
            acc = Fma.MultiplyAdd(Vector256.Create(d), Avx.ConvertToVector256Single(sumi), acc);
        }
        return HSum(acc) + HSum(accM);
    }

    /// <summary>One 64-element chunk of a Q5_K block: Q4_K's nibbles plus the fifth bits 2j and 2j+1 of the qh bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Q5KChunk(byte* ql, Vector256<byte> hbits, sbyte* q8, Vector256<byte> scales, int j)
    {
        var m4 = Vector256.Create((byte)0x0F);
        var sixteen = Vector256.Create((byte)0x10);
        var maskL = Vector256.Create((byte)(1 << (2 * j)));
        var maskH = Vector256.Create((byte)(2 << (2 * j)));
        var bits = Avx.LoadVector256(ql);
        var q5l = Avx2.Or(Avx2.And(bits, m4), Avx2.And(Avx2.CompareEqual(Avx2.And(hbits, maskL), maskL), sixteen));
        var q5h = Avx2.Or(Avx2.And(Avx2.ShiftRightLogical(bits.AsUInt16(), 4).AsByte(), m4),
                          Avx2.And(Avx2.CompareEqual(Avx2.And(hbits, maskH), maskH), sixteen));
        var p16l = Avx2.MultiplyAddAdjacent(q5l, Avx.LoadVector256(q8));
        var p16h = Avx2.MultiplyAddAdjacent(q5h, Avx.LoadVector256(q8 + 32));
        return Avx2.Add(Avx2.MultiplyAddAdjacent(Scale16(scales, 2 * j), p16l), Avx2.MultiplyAddAdjacent(Scale16(scales, 2 * j + 1), p16h));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q5_K(byte* w, byte* a, int nb, float* tab)
    {
        var acc = Vector256<float>.Zero;
        float summs = 0;
        for (int i = 0; i < nb; i++, w += 176, a += 292)
        {
            float ad = *(float*)a;
            float d = ad * F16(tab, w);
            float dmin = -ad * F16(tab, w + 2);
            var ms = Avx2.ConvertToVector256Int16(ScalesMinsK4(w + 4));
            // ggml's q5_K: the mins term as one integer sum per block and a scalar fused multiply-add (not q4_K's 4 lanes).
            var mp = MinsTimesSums(ms, a + 260);
            summs = MathF.FusedMultiplyAdd(dmin, mp.GetElement(0) + mp.GetElement(1) + mp.GetElement(2) + mp.GetElement(3), summs);
            var sc = ms.GetLower().AsByte();
            var scales = Vector256.Create(sc, sc);
            var hbits = Avx.LoadVector256(w + 16);
            byte* ql = w + 48;
            sbyte* q8 = (sbyte*)(a + 4);
            var sumi = Avx2.Add(Avx2.Add(Q5KChunk(ql, hbits, q8, scales, 0), Q5KChunk(ql + 32, hbits, q8 + 64, scales, 1)),
                                Avx2.Add(Q5KChunk(ql + 64, hbits, q8 + 128, scales, 2), Q5KChunk(ql + 96, hbits, q8 + 192, scales, 3)));
            acc = Fma.MultiplyAdd(Vector256.Create(d), Avx.ConvertToVector256Single(sumi), acc);
        }
        return HSum(acc) + summs;
    }

    /// <summary>vpshufb masks that spread Q6_K scales 2i and 2i+1 over eight bytes each.</summary>
    private static ReadOnlySpan<byte> Q6ScaleShuffle =>
    [
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
        2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3,
        4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5,
        6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7,
        8, 8, 8, 8, 8, 8, 8, 8, 9, 9, 9, 9, 9, 9, 9, 9,
        10, 10, 10, 10, 10, 10, 10, 10, 11, 11, 11, 11, 11, 11, 11, 11,
        12, 12, 12, 12, 12, 12, 12, 12, 13, 13, 13, 13, 13, 13, 13, 13,
        14, 14, 14, 14, 14, 14, 14, 14, 15, 15, 15, 15, 15, 15, 15, 15,
    ];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<short> Q6Scale(Vector128<sbyte> scales, int i)
    {
        var mask = Vector128.LoadUnsafe(ref MemoryMarshal.GetReference(Q6ScaleShuffle), (nuint)(16 * i)).AsSByte();
        return Avx2.ConvertToVector256Int16(Ssse3.Shuffle(scales, mask));
    }

    /// <summary>128 elements of a Q6_K block: four 32-element groups (low/high nibbles of two 32-byte runs, 2 high bits each) under scales isc..isc+3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Q6KHalf(byte* q4, byte* qh, sbyte* q8, Vector128<sbyte> scales, int isc)
    {
        var m3 = Vector256.Create((byte)3);
        var m15 = Vector256.Create((byte)15);
        var b1 = Avx.LoadVector256(q4);
        var b2 = Avx.LoadVector256(q4 + 32);
        var bh = Avx.LoadVector256(qh);
        var h0 = Avx2.ShiftLeftLogical(Avx2.And(bh, m3).AsUInt16(), 4).AsByte();
        var h1 = Avx2.ShiftLeftLogical(Avx2.And(bh, Vector256.Create((byte)12)).AsUInt16(), 2).AsByte();
        var h2 = Avx2.And(bh, Vector256.Create((byte)48));
        var h3 = Avx2.ShiftRightLogical(Avx2.And(bh, Vector256.Create((byte)192)).AsUInt16(), 2).AsByte();
        var q0 = Avx2.Or(Avx2.And(b1, m15), h0);
        var q1 = Avx2.Or(Avx2.And(b2, m15), h1);
        var q2 = Avx2.Or(Avx2.And(Avx2.ShiftRightLogical(b1.AsUInt16(), 4).AsByte(), m15), h2);
        var q3 = Avx2.Or(Avx2.And(Avx2.ShiftRightLogical(b2.AsUInt16(), 4).AsByte(), m15), h3);
        var p0 = Avx2.MultiplyAddAdjacent(Q6Scale(scales, isc), Avx2.MultiplyAddAdjacent(q0, Avx.LoadVector256(q8)));
        var p1 = Avx2.MultiplyAddAdjacent(Q6Scale(scales, isc + 1), Avx2.MultiplyAddAdjacent(q1, Avx.LoadVector256(q8 + 32)));
        var p2 = Avx2.MultiplyAddAdjacent(Q6Scale(scales, isc + 2), Avx2.MultiplyAddAdjacent(q2, Avx.LoadVector256(q8 + 64)));
        var p3 = Avx2.MultiplyAddAdjacent(Q6Scale(scales, isc + 3), Avx2.MultiplyAddAdjacent(q3, Avx.LoadVector256(q8 + 96)));
        return Avx2.Add(Avx2.Add(p0, p1), Avx2.Add(p2, p3));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q6_K(byte* w, byte* a, int nb, float* tab)
    {
        var acc = Vector256<float>.Zero;
        for (int i = 0; i < nb; i++, w += 210, a += 292)
        {
            PrefetchAhead(w, 4);   // 210-byte blocks
            float d = *(float*)a * F16(tab, w + 208);
            byte* q4 = w;
            byte* qh = w + 128;
            sbyte* q8 = (sbyte*)(a + 4);
            var scales = Sse2.LoadVector128((sbyte*)(w + 192));
            // The codes are stored +32; subtract 32 * scale * (sum of the 16 activation codes) per sub-block at the end.
            var q8sclsub = Avx2.ShiftLeftLogical(Avx2.MultiplyAddAdjacent(Avx.LoadVector256((short*)(a + 260)), Avx2.ConvertToVector256Int16(scales)), 5);
            var sumi = Avx2.Add(Q6KHalf(q4, qh, q8, scales, 0), Q6KHalf(q4 + 64, qh + 32, q8 + 128, scales, 4));
            sumi = Avx2.Subtract(sumi, q8sclsub);
            acc = Fma.MultiplyAdd(Vector256.Create(d), Avx.ConvertToVector256Single(sumi), acc);
        }
        return HSum(acc);
    }
}
