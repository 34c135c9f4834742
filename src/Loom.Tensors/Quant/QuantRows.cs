using System.Runtime.InteropServices;

namespace Loom.Tensors.Quant;

/// <summary>
/// Row conversion between f32 and ggml block types: dequantize (any supported type to f32) and quantize
/// (f32 to a type). Rows are whole numbers of blocks.
/// </summary>
public static unsafe class QuantRows
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
            default:
                fixed (byte* p = src)
                fixed (float* q = dst)
                    DequantizeBlocks(type, p, q, dst.Length / GgmlTypeLayout.BlockElements(type));
                break;
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
            default:
                fixed (float* p = src)
                fixed (byte* q = dst)
                    QuantizeBlocks(type, p, q, src.Length / GgmlTypeLayout.BlockElements(type));
                break;
        }
    }

    /// <summary>Decodes <paramref name="blocks"/> whole blocks of a block-quantized type.</summary>
    internal static void DequantizeBlocks(GgmlType type, byte* src, float* dst, int blocks)
    {
        switch (type)
        {
            case GgmlType.Q4_0: BlockDequant.Q4_0(src, dst, blocks); break;
            case GgmlType.Q4_1: BlockDequant.Q4_1(src, dst, blocks); break;
            case GgmlType.Q5_0: BlockDequant.Q5_0(src, dst, blocks); break;
            case GgmlType.Q5_1: BlockDequant.Q5_1(src, dst, blocks); break;
            case GgmlType.Q8_0: BlockDequant.Q8_0(src, dst, blocks); break;
            case GgmlType.Q2_K: BlockDequant.Q2_K(src, dst, blocks); break;
            case GgmlType.Q3_K: BlockDequant.Q3_K(src, dst, blocks); break;
            case GgmlType.Q4_K: BlockDequant.Q4_K(src, dst, blocks); break;
            case GgmlType.Q5_K: BlockDequant.Q5_K(src, dst, blocks); break;
            case GgmlType.Q6_K: BlockDequant.Q6_K(src, dst, blocks); break;
            case GgmlType.Q8_K: BlockDequant.Q8_K(src, dst, blocks); break;
            default: throw new NotSupportedException($"dequantizing {type} is not supported");
        }
    }

    /// <summary>Encodes <paramref name="blocks"/> whole blocks into a block-quantized type.</summary>
    internal static void QuantizeBlocks(GgmlType type, float* src, byte* dst, int blocks)
    {
        switch (type)
        {
            case GgmlType.Q4_0: BlockQuantize.Q4_0(src, dst, blocks); break;
            case GgmlType.Q4_1: BlockQuantize.Q4_1(src, dst, blocks); break;
            case GgmlType.Q5_0: BlockQuantize.Q5_0(src, dst, blocks); break;
            case GgmlType.Q5_1: BlockQuantize.Q5_1(src, dst, blocks); break;
            case GgmlType.Q8_0: BlockQuantize.Q8_0(src, dst, blocks); break;
            case GgmlType.Q2_K: BlockQuantize.Q2_K(src, dst, blocks); break;
            case GgmlType.Q3_K: BlockQuantize.Q3_K(src, dst, blocks); break;
            case GgmlType.Q4_K: BlockQuantize.Q4_K(src, dst, blocks); break;
            case GgmlType.Q5_K: BlockQuantize.Q5_K(src, dst, blocks); break;
            case GgmlType.Q6_K: BlockQuantize.Q6_K(src, dst, blocks); break;
            case GgmlType.Q8_K: BlockQuantize.Q8_K(src, dst, blocks); break;
            default: throw new NotSupportedException($"quantizing to {type} is not supported");
        }
    }
}
