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
/// Prompt-processing kernel for weights with 32-element signed blocks: one weight row x 8 tokens per pass, so each
/// weight block is decoded once for eight tokens, with eight accumulators in registers. Activations are Q8_0 rows.
/// </summary>
internal static unsafe class QuantTile
{
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
            QuantDot.PrefetchAhead(w, 1);   // blocks are under 64 bytes: one line each covers them all
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
        result[0] = QuantDot.HSum(c0); result[1] = QuantDot.HSum(c1); result[2] = QuantDot.HSum(c2); result[3] = QuantDot.HSum(c3);
        result[4] = QuantDot.HSum(c4); result[5] = QuantDot.HSum(c5); result[6] = QuantDot.HSum(c6); result[7] = QuantDot.HSum(c7);
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
