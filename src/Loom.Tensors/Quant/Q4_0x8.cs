using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Loom.Tensors.Quant;

/// <summary>
/// Q4_0 weights repacked eight rows at a time, as llama.cpp repacks them for AVX2 (its q4_0_8x8 kernels), with the
/// same arithmetic: per row and block the exact integer Σ (q − 8)·a, then acc = fma(isum, d_w·d_a, acc) block after
/// block, so results equal llama.cpp's for the same matrix. Layout of one interleaved block (144 bytes, as eight Q4_0
/// blocks): the eight rows' f16 scales, then four 32-byte vectors V0..V3 where lane r (4 bytes) of V_s is row r's
/// nibble bytes 4s..4s+3, i.e. its elements 4s..4s+3 (low nibbles) and 16+4s..16+4s+3 (high nibbles). A decode step
/// reads one sequential stream per eight rows, and each 32-byte load feeds all eight rows.
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
                    for (int s = 0; s < 4; s++) *(uint*)(gd + 16 + 32 * s + 4 * r) = *(uint*)(blk + 2 + 4 * s);
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
            for (int s = 0; s < 4; s++) *(uint*)(dst + 2 + 4 * s) = *(uint*)(group + 16 + 32 * s + 4 * r);
        }
    }

    /// <summary>
    /// Per-token inputs of <see cref="Dot8"/> from a Q8_0 activation row: 8 Σa per block (the "- 8" of every weight
    /// code, subtracted once per block) and the blocks' scales as floats.
    /// </summary>
    public static void Prepare(byte* a, int nb, int* corr, float* da, float* tab)
    {
        for (int i = 0; i < nb; i++, a += 34)
        {
            sbyte* q = (sbyte*)(a + 2);
            int sum = 0;
            for (int j = 0; j < 32; j++) sum += q[j];
            corr[i] = 8 * sum;
            da[i] = tab[*(ushort*)a];
        }
    }

    /// <summary>y[r] = dot(row r of the group, activation) for the eight rows of one group.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Dot8(byte* group, int nb, byte* a, int* corr, float* da, float* y)
    {
        var acc = Vector256<float>.Zero;
        var low = Vector256.Create((byte)0x0F);
        var ones = Vector256.Create((short)1);
        for (int i = 0; i < nb; i++, group += BlockBytes, a += 34)
        {
            byte* q = group + 16;
            sbyte* x = (sbyte*)(a + 2);
            QuantDot.PrefetchAhead(group, 3);   // a group's block is 144 bytes
            // Eight maddubs results per int16 lane stay below 8 * 2 * 15 * 127 = 30,480: no saturation.
            var v = Avx.LoadVector256(q);
            var s16 = Avx2.MultiplyAddAdjacent(Avx2.And(v, low), Vector256.Create(*(int*)x).AsSByte());
            s16 = Avx2.Add(s16, Avx2.MultiplyAddAdjacent(Avx2.And(Avx2.ShiftRightLogical(v.AsUInt16(), 4).AsByte(), low), Vector256.Create(*(int*)(x + 16)).AsSByte()));
            v = Avx.LoadVector256(q + 32);
            s16 = Avx2.Add(s16, Avx2.MultiplyAddAdjacent(Avx2.And(v, low), Vector256.Create(*(int*)(x + 4)).AsSByte()));
            s16 = Avx2.Add(s16, Avx2.MultiplyAddAdjacent(Avx2.And(Avx2.ShiftRightLogical(v.AsUInt16(), 4).AsByte(), low), Vector256.Create(*(int*)(x + 20)).AsSByte()));
            v = Avx.LoadVector256(q + 64);
            s16 = Avx2.Add(s16, Avx2.MultiplyAddAdjacent(Avx2.And(v, low), Vector256.Create(*(int*)(x + 8)).AsSByte()));
            s16 = Avx2.Add(s16, Avx2.MultiplyAddAdjacent(Avx2.And(Avx2.ShiftRightLogical(v.AsUInt16(), 4).AsByte(), low), Vector256.Create(*(int*)(x + 24)).AsSByte()));
            v = Avx.LoadVector256(q + 96);
            s16 = Avx2.Add(s16, Avx2.MultiplyAddAdjacent(Avx2.And(v, low), Vector256.Create(*(int*)(x + 12)).AsSByte()));
            s16 = Avx2.Add(s16, Avx2.MultiplyAddAdjacent(Avx2.And(Avx2.ShiftRightLogical(v.AsUInt16(), 4).AsByte(), low), Vector256.Create(*(int*)(x + 28)).AsSByte()));
            var isum = Avx2.Subtract(Avx2.MultiplyAddAdjacent(s16, ones), Vector256.Create(corr[i]));
            var scale = Avx.Multiply(HalfTile.F16.Load8((ushort*)group), Vector256.Create(da[i]));
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(isum), scale, acc);
        }
        Avx.Store(y, acc);
    }

    /// <summary>Native memory holding a repacked matrix (in huge pages from 2 MiB on), freed when the matrix is collected.</summary>
    internal sealed class Buffer
    {
        public readonly byte* Data;

        public Buffer(long bytes) => Data = bytes >= LargePages.PageBytes ? LargePages.Allocate(bytes) : (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64);

        ~Buffer() { NativeMemory.AlignedFree(Data); }
    }
}
