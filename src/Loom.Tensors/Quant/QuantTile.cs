using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Loom.Tensors.Quant;

/// <summary>Decodes one 32-element weight block whose codes are signed bytes under one f16 scale (Q8_0, Q4_0, Q5_0).</summary>
internal unsafe interface ISignedBlock32
{
    static abstract int BlockBytes { get; }
    /// <summary>The 32 codes as signed bytes; the block's f16 scale is its first two bytes.</summary>
    static abstract Vector256<sbyte> Codes(byte* block);
}

internal unsafe struct Q8_0Block : ISignedBlock32
{
    public static int BlockBytes => 34;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Codes(byte* b) => Avx.LoadVector256((sbyte*)(b + 2));
}

internal unsafe struct Q4_0Block : ISignedBlock32
{
    public static int BlockBytes => 18;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Codes(byte* b) => Avx2.Subtract(QuantDot.Nibbles32(b + 2), Vector256.Create((byte)8)).AsSByte();
}

internal unsafe struct Q5_0Block : ISignedBlock32
{
    public static int BlockBytes => 22;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Codes(byte* b)
        => Avx2.Or(QuantDot.Nibbles32(b + 6), Avx2.AndNot(QuantDot.BytesFromBits32(b + 2), Vector256.Create((byte)0xF0))).AsSByte();
}

/// <summary>
/// Prompt-processing kernel: 2 weight rows x 4 tokens per pass, so each weight block is decoded once for four
/// tokens and each activation block is loaded once for two rows. Activations are Q8_0 rows.
/// </summary>
internal static unsafe class QuantTile
{
    /// <summary>out[r * 4 + t] = dot(weight row r, activation row t) for r &lt; 2, t &lt; 4.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Dot2x4<TBlock>(byte* w0, byte* w1, byte* a0, long aStride, int nb, float* result, float* tab) where TBlock : struct, ISignedBlock32
    {
        var c00 = Vector256<float>.Zero; var c01 = Vector256<float>.Zero; var c02 = Vector256<float>.Zero; var c03 = Vector256<float>.Zero;
        var c10 = Vector256<float>.Zero; var c11 = Vector256<float>.Zero; var c12 = Vector256<float>.Zero; var c13 = Vector256<float>.Zero;
        byte* a1 = a0 + aStride, a2 = a1 + aStride, a3 = a2 + aStride;
        int bb = TBlock.BlockBytes;
        for (int i = 0; i < nb; i++, w0 += bb, w1 += bb, a0 += 34, a1 += 34, a2 += 34, a3 += 34)
        {
            // Activation rows are re-read from L1 for each weight row rather than held, to keep all 16 ymm registers
            // for the 8 accumulators and temporaries; scales are broadcast straight from the f16 table.
            var dw = Vector256.Create(QuantDot.F16(tab, w0));
            var x = TBlock.Codes(w0);
            var ax = Avx2.Abs(x);
            c00 = Fma.MultiplyAdd(Avx.Multiply(dw, Vector256.Create(QuantDot.F16(tab, a0))), Avx.ConvertToVector256Single(Sum4(ax, Avx2.Sign(Avx.LoadVector256((sbyte*)(a0 + 2)), x))), c00);
            c01 = Fma.MultiplyAdd(Avx.Multiply(dw, Vector256.Create(QuantDot.F16(tab, a1))), Avx.ConvertToVector256Single(Sum4(ax, Avx2.Sign(Avx.LoadVector256((sbyte*)(a1 + 2)), x))), c01);
            c02 = Fma.MultiplyAdd(Avx.Multiply(dw, Vector256.Create(QuantDot.F16(tab, a2))), Avx.ConvertToVector256Single(Sum4(ax, Avx2.Sign(Avx.LoadVector256((sbyte*)(a2 + 2)), x))), c02);
            c03 = Fma.MultiplyAdd(Avx.Multiply(dw, Vector256.Create(QuantDot.F16(tab, a3))), Avx.ConvertToVector256Single(Sum4(ax, Avx2.Sign(Avx.LoadVector256((sbyte*)(a3 + 2)), x))), c03);

            dw = Vector256.Create(QuantDot.F16(tab, w1));
            x = TBlock.Codes(w1);
            ax = Avx2.Abs(x);
            c10 = Fma.MultiplyAdd(Avx.Multiply(dw, Vector256.Create(QuantDot.F16(tab, a0))), Avx.ConvertToVector256Single(Sum4(ax, Avx2.Sign(Avx.LoadVector256((sbyte*)(a0 + 2)), x))), c10);
            c11 = Fma.MultiplyAdd(Avx.Multiply(dw, Vector256.Create(QuantDot.F16(tab, a1))), Avx.ConvertToVector256Single(Sum4(ax, Avx2.Sign(Avx.LoadVector256((sbyte*)(a1 + 2)), x))), c11);
            c12 = Fma.MultiplyAdd(Avx.Multiply(dw, Vector256.Create(QuantDot.F16(tab, a2))), Avx.ConvertToVector256Single(Sum4(ax, Avx2.Sign(Avx.LoadVector256((sbyte*)(a2 + 2)), x))), c12);
            c13 = Fma.MultiplyAdd(Avx.Multiply(dw, Vector256.Create(QuantDot.F16(tab, a3))), Avx.ConvertToVector256Single(Sum4(ax, Avx2.Sign(Avx.LoadVector256((sbyte*)(a3 + 2)), x))), c13);
        }
        result[0] = Vector256.Sum(c00); result[1] = Vector256.Sum(c01); result[2] = Vector256.Sum(c02); result[3] = Vector256.Sum(c03);
        result[4] = Vector256.Sum(c10); result[5] = Vector256.Sum(c11); result[6] = Vector256.Sum(c12); result[7] = Vector256.Sum(c13);
    }

    /// <summary>out[t] = dot(weight row, activation row t) for t &lt; 8: each weight block is decoded once for eight tokens.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Dot1x8<TBlock>(byte* w, byte* a0, long aStride, int nb, float* result, float* tab) where TBlock : struct, ISignedBlock32
    {
        var c0 = Vector256<float>.Zero; var c1 = Vector256<float>.Zero; var c2 = Vector256<float>.Zero; var c3 = Vector256<float>.Zero;
        var c4 = Vector256<float>.Zero; var c5 = Vector256<float>.Zero; var c6 = Vector256<float>.Zero; var c7 = Vector256<float>.Zero;
        int bb = TBlock.BlockBytes;
        nint s = (nint)aStride;
        for (int i = 0; i < nb; i++, w += bb, a0 += 34)
        {
            var dw = Vector256.Create(tab[*(ushort*)w]);
            var x = TBlock.Codes(w);
            var ax = Avx2.Abs(x);
            byte* a = a0;
            c0 = Pair(c0, dw, ax, x, a, tab); a += s;
            c1 = Pair(c1, dw, ax, x, a, tab); a += s;
            c2 = Pair(c2, dw, ax, x, a, tab); a += s;
            c3 = Pair(c3, dw, ax, x, a, tab); a += s;
            c4 = Pair(c4, dw, ax, x, a, tab); a += s;
            c5 = Pair(c5, dw, ax, x, a, tab); a += s;
            c6 = Pair(c6, dw, ax, x, a, tab); a += s;
            c7 = Pair(c7, dw, ax, x, a, tab);
        }
        result[0] = Vector256.Sum(c0); result[1] = Vector256.Sum(c1); result[2] = Vector256.Sum(c2); result[3] = Vector256.Sum(c3);
        result[4] = Vector256.Sum(c4); result[5] = Vector256.Sum(c5); result[6] = Vector256.Sum(c6); result[7] = Vector256.Sum(c7);
    }

    /// <summary>acc + (d_w * d_a) * (codes of w . codes of the Q8_0 activation block at a).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Pair(Vector256<float> acc, Vector256<float> dw, Vector256<byte> ax, Vector256<sbyte> x, byte* a, float* tab)
    {
        var p = Sum4(ax, Avx2.Sign(Avx.LoadVector256((sbyte*)(a + 2)), x));
        return Fma.MultiplyAdd(Avx.Multiply(dw, Vector256.Create(tab[*(ushort*)a])), Avx.ConvertToVector256Single(p), acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Sum4(Vector256<byte> ax, Vector256<sbyte> sy)
        => Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(ax, sy), Vector256.Create((short)1));
}
