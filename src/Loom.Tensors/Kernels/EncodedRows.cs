using Loom.Tensors.Quant;

namespace Loom.Tensors.Kernels;

/// <summary>
/// A GEMM operand B (N, K) whose rows are stored in a ggml type (F16, BF16 or a block quant): the driver decodes
/// KC-long pieces of rows while packing, so quantized weights feed the f32 micro-kernels without a full f32 copy.
/// </summary>
internal readonly unsafe struct EncodedRows(GgmlType type, byte* data, long rowBytes, bool interleaved8 = false)
{
    /// <summary>Q4_0 rows in <see cref="Q4_0x8"/>'s interleaved layout.</summary>
    public readonly bool Interleaved8 = interleaved8;
    public readonly GgmlType Type = type;
    public readonly byte* Data = data;
    public readonly long RowBytes = rowBytes;
    public readonly int BlockElements = GgmlTypeLayout.BlockElements(type);
    private readonly int _blockBytes = GgmlTypeLayout.BlockBytes(type);

    /// <summary>Decodes elements [p0, p0 + count) of row <paramref name="row"/> (both multiples of the block size).</summary>
    public void Decode(int row, int p0, int count, float* dst)
    {
        if (Interleaved8)
        {
            // Gather the row's blocks back into plain Q4_0 a few at a time, then decode them.
            byte* plain = stackalloc byte[8 * 18];
            for (int b = p0 / 32, end = (p0 + count) / 32; b < end; b += 8)
            {
                int n = Math.Min(8, end - b);
                Q4_0x8.CopyRowBlocks(Data, (int)(RowBytes / 18), row, b, n, plain);
                QuantRows.DequantizeBlocks(GgmlType.Q4_0, plain, dst, n);
                dst += n * 32;
            }
            return;
        }
        byte* src = Data + row * RowBytes + (long)(p0 / BlockElements) * _blockBytes;
        switch (Type)
        {
            case GgmlType.F16:
                System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>(src, count), new Span<float>(dst, count));
                break;
            case GgmlType.BF16:
                QuantRows.Dequantize(Type, new ReadOnlySpan<byte>(src, count * 2), new Span<float>(dst, count));
                break;
            default:
                QuantRows.DequantizeBlocks(Type, src, dst, count / BlockElements);
                break;
        }
    }
}
