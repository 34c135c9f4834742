using System.Runtime.CompilerServices;

namespace Loom.Tensors;

/// <summary>
/// An n-dimensional array over reference-counted native <see cref="Storage"/>: shape, element strides and an
/// offset, so reshape/transpose/slice/broadcast are views without copies. Autograd state (RequiresGrad, Grad,
/// GradFn) lives here so that one type serves training and inference; the tape itself is in Loom.Nn.
/// </summary>
public sealed unsafe partial class Tensor : IDisposable
{
    private readonly int[] _shape;
    private readonly int[] _strides;
    private bool _disposed;

    /// <summary>Shared storage (several views may point at it).</summary>
    public Storage Storage { get; }

    public DType DType { get; }

    /// <summary>Offset of element [0,...,0] in elements of <see cref="DType"/>.</summary>
    public long Offset { get; }

    /// <summary>Dimensions. Do not mutate the returned array.</summary>
    public int[] Shape => _shape;

    /// <summary>Strides in elements. Do not mutate the returned array.</summary>
    public int[] Strides => _strides;

    public int Rank => _shape.Length;

    /// <summary>Number of elements.</summary>
    public long Length { get; }

    /// <summary>Whether autograd should track operations on this tensor.</summary>
    public bool RequiresGrad { get; set; }

    /// <summary>Gradient accumulated by backward passes (same shape as this tensor).</summary>
    public Tensor? Grad { get; set; }

    /// <summary>The operation that produced this tensor, when it was recorded on the autograd tape.</summary>
    public GradFn? GradFn { get; set; }

    /// <summary>Optional name (parameter name, debugging).</summary>
    public string? Name { get; set; }

    public bool IsLeaf => GradFn == null;

    internal Tensor(Storage storage, DType dtype, int[] shape, int[] strides, long offset)
    {
        Storage = storage;
        DType = dtype;
        _shape = shape;
        _strides = strides;
        Offset = offset;
        long n = 1;
        foreach (int d in shape) n *= d;
        Length = n;
        TensorScope.Register(this);
    }

    /// <summary>Dimension <paramref name="dim"/>, negative counts from the end.</summary>
    public int Dim(int dim) => _shape[NormDim(dim)];

    public int NormDim(int dim)
    {
        int d = dim < 0 ? dim + Rank : dim;
        if ((uint)d >= (uint)Rank) throw new ArgumentOutOfRangeException(nameof(dim), $"dimension {dim} is out of range for a tensor of shape {ShapeString(_shape)}");
        return d;
    }

    public bool IsContiguous
    {
        get
        {
            long expected = 1;
            for (int i = Rank - 1; i >= 0; i--)
            {
                if (_shape[i] != 1 && _strides[i] != expected) return false;
                expected *= _shape[i];
            }
            return true;
        }
    }

    /// <summary>Pointer to element [0,...,0] as float. Only for F32 tensors.</summary>
    public float* Data
    {
        get
        {
            if (DType != DType.F32) throw new InvalidOperationException($"tensor is {DType}, expected F32");
            return (float*)Storage.Pointer + Offset;
        }
    }

    /// <summary>Pointer to element [0,...,0] as raw bytes.</summary>
    public byte* RawData => Storage.Pointer + Offset * DTypeInfo.SizeOf(DType);

    /// <summary>The elements of a contiguous F32 tensor.</summary>
    public Span<float> Span
    {
        get
        {
            if (!IsContiguous) throw new InvalidOperationException($"tensor of shape {ShapeString(_shape)} is not contiguous; call Contiguous() first");
            if (Length > int.MaxValue) throw new InvalidOperationException("tensor too large for a span");
            return new Span<float>(Data, (int)Length);
        }
    }

    public static string ShapeString(ReadOnlySpan<int> shape) => "(" + string.Join(", ", shape.ToArray()) + ")";

    public override string ToString() => $"Tensor{ShapeString(_shape)} {DType}{(RequiresGrad ? " requires_grad" : "")}";

    public bool IsDisposed => _disposed;

    /// <summary>Releases this tensor's reference to its storage. Idempotent.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Storage.Release();
        if (Grad != null && !ReferenceEquals(Grad, this)) { Grad.Dispose(); Grad = null; }
        GradFn = null;
    }

    // ---------- creation ----------

    internal static int[] ContiguousStrides(ReadOnlySpan<int> shape)
    {
        var s = new int[shape.Length];
        long acc = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            s[i] = (int)acc;
            acc *= shape[i];
        }
        return s;
    }

    internal static long CheckShape(ReadOnlySpan<int> shape)
    {
        long n = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"negative dimension in shape {ShapeString(shape)}");
            n *= d;
            if (n > (1L << 40)) throw new ArgumentException($"shape {ShapeString(shape)} is too large");
        }
        return n;
    }

    /// <summary>Uninitialised contiguous tensor.</summary>
    public static Tensor Empty(ReadOnlySpan<int> shape, DType dtype = DType.F32)
    {
        long n = CheckShape(shape);
        var st = Storage.Allocate(n * DTypeInfo.SizeOf(dtype));
        return new Tensor(st, dtype, shape.ToArray(), ContiguousStrides(shape), 0);
    }

    public static Tensor Empty(params int[] shape) => Empty((ReadOnlySpan<int>)shape);

    public static Tensor Zeros(params int[] shape) => Zeros((ReadOnlySpan<int>)shape);

    public static Tensor Zeros(ReadOnlySpan<int> shape, DType dtype = DType.F32)
    {
        var t = Empty(shape, dtype);
        new Span<byte>(t.RawData, checked((int)(t.Length * DTypeInfo.SizeOf(dtype)))).Clear();
        return t;
    }

    public static Tensor Full(float value, params int[] shape)
    {
        var t = Empty(shape);
        t.Span.Fill(value);
        return t;
    }

    public static Tensor Ones(params int[] shape) => Full(1f, shape);

    public static Tensor ZerosLike(Tensor t) => Zeros(t.Shape);

    public static Tensor EmptyLike(Tensor t) => Empty(t.Shape);

    /// <summary>Copies <paramref name="data"/> into a new tensor of the given shape.</summary>
    public static Tensor FromArray(ReadOnlySpan<float> data, params int[] shape)
    {
        long n = CheckShape(shape);
        if (n != data.Length) throw new ArgumentException($"{data.Length} values cannot fill shape {ShapeString(shape)} ({n} elements)");
        var t = Empty(shape);
        data.CopyTo(t.Span);
        return t;
    }

    public static Tensor Scalar(float value) => FromArray([value], []);

    /// <summary>Copies the elements (in logical row-major order) into a new array.</summary>
    public float[] ToArray()
    {
        if (DType != DType.F32)
        {
            using var f = ToDType(DType.F32);
            return f.ToArray();
        }
        var result = new float[Length];
        if (IsContiguous) Span.CopyTo(result);
        else
        {
            fixed (float* dst = result) StridedCopy.Copy(this, (byte*)dst);
        }
        return result;
    }

    /// <summary>The single value of a one-element tensor.</summary>
    public float ToScalar()
    {
        if (Length != 1) throw new InvalidOperationException($"ToScalar() needs a one-element tensor, got shape {ShapeString(_shape)}");
        if (DType == DType.F32) return Data[0];
        return ToArray()[0];
    }

    /// <summary>Element at a multi-index (slow; for tests and debugging).</summary>
    public float this[params int[] index]
    {
        get
        {
            long off = ElementOffset(index);
            return DType switch
            {
                DType.F32 => ((float*)Storage.Pointer)[off],
                DType.F16 => (float)((Half*)Storage.Pointer)[off],
                _ => HalfConvert.BF16ToFloat(((ushort*)Storage.Pointer)[off]),
            };
        }
        set
        {
            long off = ElementOffset(index);
            switch (DType)
            {
                case DType.F32: ((float*)Storage.Pointer)[off] = value; break;
                case DType.F16: ((Half*)Storage.Pointer)[off] = (Half)value; break;
                default: ((ushort*)Storage.Pointer)[off] = HalfConvert.FloatToBF16(value); break;
            }
        }
    }

    private long ElementOffset(int[] index)
    {
        if (index.Length != Rank) throw new ArgumentException($"index of rank {index.Length} for tensor of shape {ShapeString(_shape)}");
        long off = Offset;
        for (int i = 0; i < index.Length; i++)
        {
            if ((uint)index[i] >= (uint)_shape[i]) throw new IndexOutOfRangeException($"index {index[i]} out of range for dimension {i} of shape {ShapeString(_shape)}");
            off += (long)index[i] * _strides[i];
        }
        return off;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal Tensor NewView(int[] shape, int[] strides, long offset)
    {
        Storage.AddRef();
        return new Tensor(Storage, DType, shape, strides, offset);
    }
}

public sealed unsafe partial class Tensor
{
    /// <summary>A contiguous tensor over existing storage (takes over the caller's reference).</summary>
    public static Tensor FromStorage(Storage storage, DType dtype, int[] shape)
    {
        long n = CheckShape(shape);
        if (n * DTypeInfo.SizeOf(dtype) > storage.ByteLength)
            throw new ArgumentException($"storage of {storage.ByteLength} bytes is too small for shape {ShapeString(shape)} of {dtype}");
        return new Tensor(storage, dtype, (int[])shape.Clone(), ContiguousStrides(shape), 0);
    }
}
