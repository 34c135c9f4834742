using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Loom.Tensors.Quant;

/// <summary>
/// Row conversion between f32 and ggml block types: dequantize (any supported type to f32) and quantize
/// (f32 to a type). Rows are whole numbers of blocks.
/// </summary>
public static class QuantRows
{
    /// <summary>Decodes <paramref name="dst"/>.Length elements from the blocks in <paramref name="src"/>.</summary>
    public static void Dequantize(GgmlType type, ReadOnlySpan<byte> src, Span<float> dst)
    {
        long need = GgmlTypeLayout.RowBytes(type, dst.Length);
        if (src.Length < need) throw new ArgumentException($"{src.Length} bytes hold fewer than {dst.Length} {type} elements ({need} bytes)");
        switch (type)
        {
            case GgmlType.F32: MemoryMarshal.Cast<byte, float>(src[..(int)need]).CopyTo(dst); break;
            case GgmlType.F16: HalfConvert.HalfToFloat(MemoryMarshal.Cast<byte, Half>(src[..(int)need]), dst); break;
            case GgmlType.BF16: HalfConvert.BF16ToFloat(MemoryMarshal.Cast<byte, ushort>(src[..(int)need]), dst); break;
            case GgmlType.Q8_0:
                for (int b = 0; b < dst.Length / 32; b++)
                {
                    var blk = src.Slice(b * 34, 34);
                    float d = (float)BinaryPrimitives.ReadHalfLittleEndian(blk);
                    for (int i = 0; i < 32; i++) dst[b * 32 + i] = d * (sbyte)blk[2 + i];
                }
                break;
            case GgmlType.Q4_0:
                for (int b = 0; b < dst.Length / 32; b++)
                {
                    var blk = src.Slice(b * 18, 18);
                    float d = (float)BinaryPrimitives.ReadHalfLittleEndian(blk);
                    for (int i = 0; i < 16; i++)
                    {
                        dst[b * 32 + i] = d * ((blk[2 + i] & 0x0F) - 8);
                        dst[b * 32 + i + 16] = d * ((blk[2 + i] >> 4) - 8);
                    }
                }
                break;
            default: throw new NotSupportedException($"dequantizing {type} is not implemented yet");
        }
    }

    /// <summary>Encodes <paramref name="src"/> (a whole number of blocks) as <paramref name="type"/> into <paramref name="dst"/>.</summary>
    public static void Quantize(GgmlType type, ReadOnlySpan<float> src, Span<byte> dst)
    {
        long need = GgmlTypeLayout.RowBytes(type, src.Length);
        if (dst.Length < need) throw new ArgumentException($"{dst.Length} bytes cannot hold {src.Length} {type} elements ({need} bytes)");
        switch (type)
        {
            case GgmlType.F32: MemoryMarshal.Cast<float, byte>(src).CopyTo(dst); break;
            case GgmlType.F16: HalfConvert.FloatToHalf(src, MemoryMarshal.Cast<byte, Half>(dst[..(int)need])); break;
            case GgmlType.BF16: HalfConvert.FloatToBF16(src, MemoryMarshal.Cast<byte, ushort>(dst[..(int)need])); break;
            default: throw new NotSupportedException($"quantizing to {type} is not implemented yet");
        }
    }
}
