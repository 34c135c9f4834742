using Loom.Tensors.Quant;

namespace Loom.Tensors.Kernels;

/// <summary>
/// A GEMM operand B (N, K) whose rows are stored in a ggml type (F16, BF16 or a block quant): the driver decodes
/// KC-long pieces of rows while packing, so quantized weights feed the f32 micro-kernels without a full f32 copy.
/// </summary>
internal readonly unsafe struct EncodedRows(GgmlType type, byte* data, long rowBytes)
{
    public readonly GgmlType Type = type;
    public readonly byte* Data = data;
    public readonly long RowBytes = rowBytes;
    public readonly int BlockElements = GgmlTypeLayout.BlockElements(type);
    private readonly int _blockBytes = GgmlTypeLayout.BlockBytes(type);

    /// <summary>Decodes elements [p0, p0 + count) of row <paramref name="row"/> (both multiples of the block size).</summary>
    public void Decode(int row, int p0, int count, float* dst)
    {
        byte* src = Data + row * RowBytes + (long)(p0 / BlockElements) * _blockBytes;
        switch (Type)
        {
            case GgmlType.F32:
                Buffer.MemoryCopy(src, dst, count * sizeof(float), count * sizeof(float));
                break;
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
