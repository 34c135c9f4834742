using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Loom.Tensors.Quant;

/// <summary>
/// Q4_0 weights repacked eight rows at a time, as llama.cpp repacks them for AVX2: for each group of eight rows and
/// each 32-column block, the eight f16 scales (16 bytes) then the eight rows' 16 nibble bytes (128 bytes). A decode
/// step then reads one sequential stream per eight rows instead of eight streams 1-2 KiB apart, and each activation
/// block is loaded once for eight rows.
/// </summary>
internal static unsafe class Q4_0x8
{
    /// <summary>Bytes of one interleaved block: 8 scales + 8 x 16 nibble bytes (the same as eight Q4_0 blocks).</summary>
    public const int BlockBytes = 8 * 18;

    /// <summary>Rewrites <paramref name="rows"/> (a multiple of 8) Q4_0 rows of <paramref name="nb"/> blocks into the interleaved layout.</summary>
    public static void Repack(byte* src, int rows, int nb, byte* dst)
    {
        long rowBytes = (long)nb * 18;
        for (int g = 0; g < rows; g += 8)
        {
            byte* gs = src + g * rowBytes;
            byte* gd = dst + g * rowBytes;
            for (int b = 0; b < nb; b++, gd += BlockBytes)
                for (int r = 0; r < 8; r++)
                {
                    byte* blk = gs + r * rowBytes + b * 18;
                    *(ushort*)(gd + 2 * r) = *(ushort*)blk;
                    Unsafe.CopyBlockUnaligned(gd + 16 + 16 * r, blk + 2, 16);
                }
        }
    }

    /// <summary>Writes row <paramref name="row"/>'s blocks [b0, b0 + count) back in plain Q4_0 layout (18 bytes per block).</summary>
    public static void CopyRowBlocks(byte* packed, int nb, int row, int b0, int count, byte* dst)
    {
        byte* group = packed + (long)(row & ~7) * nb * 18 + (long)b0 * BlockBytes;
        int r = row & 7;
        for (int b = 0; b < count; b++, group += BlockBytes, dst += 18)
        {
            *(ushort*)dst = *(ushort*)(group + 2 * r);
            Unsafe.CopyBlockUnaligned(dst + 2, group + 16 + 16 * r, 16);
        }
    }

    /// <summary>
    /// Per-token inputs of <see cref="Dot8"/> from a Q8_0 activation row: lane j of block i's correction is 8 times the
    /// sum of codes 4j..4j+3 (the "- 8" of every weight code), and the blocks' scales as floats.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Prepare(byte* a, int nb, Vector256<int>* corr, float* da, float* tab)
    {
        var eight = Vector256.Create((byte)8);
        var ones = Vector256.Create((short)1);
        for (int i = 0; i < nb; i++, a += 34)
        {
            corr[i] = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(eight, Avx.LoadVector256((sbyte*)(a + 2))), ones);
            da[i] = tab[*(ushort*)a];
        }
    }

    /// <summary>
    /// y[r] = dot(row r of the group, activation) for the eight rows of one group. Per block and row the integer sum
    /// is Σ q·a − 8·Σ a (the same integers as ggml's Σ (q − 8)·a), scaled by d_w·d_a and accumulated in the same f32
    /// order as <see cref="QuantDot"/>'s Q4_0 kernel, so both give identical results.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Dot8(byte* group, int nb, byte* a, Vector256<int>* corr, float* da, float* tab, float* y)
    {
        var c0 = Vector256<float>.Zero; var c1 = Vector256<float>.Zero; var c2 = Vector256<float>.Zero; var c3 = Vector256<float>.Zero;
        var c4 = Vector256<float>.Zero; var c5 = Vector256<float>.Zero; var c6 = Vector256<float>.Zero; var c7 = Vector256<float>.Zero;
        for (int i = 0; i < nb; i++, group += BlockBytes, a += 34)
        {
            var codes = Avx.LoadVector256((sbyte*)(a + 2));
            var cr = corr[i];
            float d = da[i];
            byte* q = group + 16;
            c0 = Row(c0, q, codes, cr, tab[((ushort*)group)[0]] * d);
            c1 = Row(c1, q + 16, codes, cr, tab[((ushort*)group)[1]] * d);
            c2 = Row(c2, q + 32, codes, cr, tab[((ushort*)group)[2]] * d);
            c3 = Row(c3, q + 48, codes, cr, tab[((ushort*)group)[3]] * d);
            c4 = Row(c4, q + 64, codes, cr, tab[((ushort*)group)[4]] * d);
            c5 = Row(c5, q + 80, codes, cr, tab[((ushort*)group)[5]] * d);
            c6 = Row(c6, q + 96, codes, cr, tab[((ushort*)group)[6]] * d);
            c7 = Row(c7, q + 112, codes, cr, tab[((ushort*)group)[7]] * d);
        }
        y[0] = QuantDot.HSum(c0); y[1] = QuantDot.HSum(c1); y[2] = QuantDot.HSum(c2); y[3] = QuantDot.HSum(c3);
        y[4] = QuantDot.HSum(c4); y[5] = QuantDot.HSum(c5); y[6] = QuantDot.HSum(c6); y[7] = QuantDot.HSum(c7);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Row(Vector256<float> acc, byte* q, Vector256<sbyte> codes, Vector256<int> corr, float scale)
    {
        var s = Avx2.Subtract(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(QuantDot.Nibbles32(q), codes), Vector256.Create((short)1)), corr);
        return Fma.MultiplyAdd(Vector256.Create(scale), Avx.ConvertToVector256Single(s), acc);
    }

    /// <summary>Native memory holding a repacked matrix, freed when the matrix is collected.</summary>
    internal sealed class Buffer
    {
        public readonly byte* Data;

        public Buffer(long bytes) => Data = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64);

        ~Buffer() { NativeMemory.AlignedFree(Data); }
    }
}
