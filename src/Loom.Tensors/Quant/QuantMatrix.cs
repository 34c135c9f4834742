namespace Loom.Tensors.Quant;

/// <summary>
/// A weight matrix W of shape (Rows, Cols) stored row-major in a ggml type (F32, F16, BF16 or a block quant),
/// usually memory-mapped from a GGUF file. Multiplies activations as y = x · Wᵀ, the shape of a Linear layer.
/// </summary>
public sealed unsafe class QuantMatrix
{
    private readonly byte* _data;
    private readonly object? _owner;   // keeps the mapping (or array) that holds the bytes alive

    /// <summary>Wraps <paramref name="rows"/> rows of <paramref name="cols"/> elements at <paramref name="data"/>; <paramref name="owner"/> keeps the memory alive.</summary>
    public QuantMatrix(GgmlType type, int rows, int cols, byte* data, object? owner)
    {
        Type = type;
        Rows = rows;
        Cols = cols;
        RowBytes = GgmlTypeLayout.RowBytes(type, cols);
        _data = data;
        _owner = owner;
    }

    public GgmlType Type { get; }
    /// <summary>Output features (N).</summary>
    public int Rows { get; }
    /// <summary>Input features (K).</summary>
    public int Cols { get; }
    public long RowBytes { get; }

    /// <summary>The encoded bytes of one row.</summary>
    public ReadOnlySpan<byte> Row(int r) => new(_data + r * RowBytes, (int)RowBytes);

    /// <summary>Decodes row <paramref name="r"/> into <paramref name="dst"/> (length Cols).</summary>
    public void DequantizeRow(int r, Span<float> dst) => QuantRows.Dequantize(Type, Row(r), dst[..Cols]);

    /// <summary>y (T, Rows) = x (T, Cols) · Wᵀ for <paramref name="tokens"/> rows of x.</summary>
    public void MatMul(ReadOnlySpan<float> x, int tokens, Span<float> y)
    {
        if (x.Length < tokens * Cols) throw new ArgumentException($"x has {x.Length} elements, fewer than ({tokens}, {Cols})");
        if (y.Length < tokens * Rows) throw new ArgumentException($"y has {y.Length} elements, fewer than ({tokens}, {Rows})");
        // Reference path: decode a row, dot it with every token. The fast kernels replace this.
        var w = new float[Cols];
        for (int r = 0; r < Rows; r++)
        {
            DequantizeRow(r, w);
            for (int t = 0; t < tokens; t++)
                y[t * Rows + r] = System.Numerics.Tensors.TensorPrimitives.Dot(x.Slice(t * Cols, Cols), w);
        }
        GC.KeepAlive(_owner);
    }
}
