using System.Numerics.Tensors;

namespace Loom.Tensors;

/// <summary>Binary elementwise operators with numpy broadcasting.</summary>
public enum BinaryOp { Add, Sub, Mul, Div, Max, Min }

/// <summary>
/// Tensor-level operations without autograd: they allocate their result and run the kernels in
/// <see cref="Kernels"/> on the shared <see cref="ComputePool"/>. Loom.Nn wraps them with gradients.
/// </summary>
public static unsafe partial class Ops
{
    /// <summary>Elements below this count run on one thread: dispatch costs more than it saves.</summary>
    public const int ParallelThreshold = 1 << 15;

    public static Tensor Add(Tensor a, Tensor b) => Binary(a, b, BinaryOp.Add);
    public static Tensor Sub(Tensor a, Tensor b) => Binary(a, b, BinaryOp.Sub);
    public static Tensor Mul(Tensor a, Tensor b) => Binary(a, b, BinaryOp.Mul);
    public static Tensor Div(Tensor a, Tensor b) => Binary(a, b, BinaryOp.Div);
    public static Tensor Maximum(Tensor a, Tensor b) => Binary(a, b, BinaryOp.Max);
    public static Tensor Minimum(Tensor a, Tensor b) => Binary(a, b, BinaryOp.Min);

    /// <summary>a op b with broadcasting; the result is contiguous with the broadcast shape.</summary>
    public static Tensor Binary(Tensor a, Tensor b, BinaryOp op)
    {
        var shape = Tensor.BroadcastShape(a.Shape, b.Shape);
        var result = Tensor.Empty(shape);
        BinaryInto(a, b, op, result);
        return result;
    }

    /// <summary>Writes a op b (broadcast) into a contiguous <paramref name="dst"/> of the broadcast shape.</summary>
    public static void BinaryInto(Tensor a, Tensor b, BinaryOp op, Tensor dst)
    {
        var shape = Tensor.BroadcastShape(a.Shape, b.Shape);
        if (!Tensor.SameShape(shape, dst.Shape)) throw new ShapeMismatchException($"{op}: result of {Tensor.ShapeString(a.Shape)} and {Tensor.ShapeString(b.Shape)} is {Tensor.ShapeString(shape)}, destination is {Tensor.ShapeString(dst.Shape)}");
        if (!dst.IsContiguous) throw new ArgumentException("destination must be contiguous");
        using var ac = F32Contiguous(a);
        using var bc = F32Contiguous(b);
        long n = dst.Length;
        if (n == 0) return;
        float* pa = ac.Data, pb = bc.Data, pd = dst.Data;
        if (ac.Length == n && bc.Length == n)
        {
            RunFlat(op, pa, pb, pd, n, 0, 0);
            return;
        }
        if (bc.Length == 1) { RunFlat(op, pa, pb, pd, n, 0, 1); return; }
        if (ac.Length == 1) { RunFlat(op, pa, pb, pd, n, 1, 0); return; }
        // General case: iterate over rows of the last dimension with broadcast strides.
        using var ab = ac.BroadcastTo(shape);
        using var bb = bc.BroadcastTo(shape);
        int inner = shape[^1];
        long rows = n / inner;
        var body = new BroadcastBody { Op = op, A = pa, B = pb, D = pd, Shape = shape, SA = ab.Strides, SB = bb.Strides, Inner = inner };
        ComputePool.For((int)rows, body, n < ParallelThreshold ? 1 : 0);
    }

    internal static Tensor F32Contiguous(Tensor t) => t.DType == DType.F32 ? t.Contiguous() : t.ToDType(DType.F32);

    /// <summary>scalarA/scalarB: 1 when that operand is a single value repeated.</summary>
    private static void RunFlat(BinaryOp op, float* a, float* b, float* d, long n, int scalarA, int scalarB)
    {
        var body = new FlatBody { Op = op, A = a, B = b, D = d, ScalarA = scalarA == 1, ScalarB = scalarB == 1 };
        int chunks = n < ParallelThreshold ? 1 : ComputePool.Threads;
        // Chunk in units of 64 elements so vector loops stay aligned.
        long units = (n + 63) / 64;
        body.N = n;
        ComputePool.For((int)units, body, chunks);
    }

    private struct FlatBody : IRangeBody
    {
        public BinaryOp Op;
        public float* A, B, D;
        public long N;
        public bool ScalarA, ScalarB;

        public readonly void Run(int start, int end)
        {
            long s = (long)start * 64, e = Math.Min((long)end * 64, N);
            int len = (int)(e - s);
            var d = new Span<float>(D + s, len);
            if (ScalarB)
            {
                var a = new ReadOnlySpan<float>(A + s, len);
                float b = *B;
                switch (Op)
                {
                    case BinaryOp.Add: TensorPrimitives.Add(a, b, d); break;
                    case BinaryOp.Sub: TensorPrimitives.Subtract(a, b, d); break;
                    case BinaryOp.Mul: TensorPrimitives.Multiply(a, b, d); break;
                    case BinaryOp.Div: TensorPrimitives.Divide(a, b, d); break;
                    case BinaryOp.Max: TensorPrimitives.Max(a, b, d); break;
                    case BinaryOp.Min: TensorPrimitives.Min(a, b, d); break;
                }
            }
            else if (ScalarA)
            {
                float a = *A;
                var b = new ReadOnlySpan<float>(B + s, len);
                switch (Op)
                {
                    case BinaryOp.Add: TensorPrimitives.Add(b, a, d); break;
                    case BinaryOp.Sub: TensorPrimitives.Subtract(a, b, d); break;
                    case BinaryOp.Mul: TensorPrimitives.Multiply(b, a, d); break;
                    case BinaryOp.Div: TensorPrimitives.Divide(a, b, d); break;
                    case BinaryOp.Max: TensorPrimitives.Max(b, a, d); break;
                    case BinaryOp.Min: TensorPrimitives.Min(b, a, d); break;
                }
            }
            else
            {
                var a = new ReadOnlySpan<float>(A + s, len);
                var b = new ReadOnlySpan<float>(B + s, len);
                Apply(Op, a, b, d);
            }
        }
    }

    internal static void Apply(BinaryOp op, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> d)
    {
        switch (op)
        {
            case BinaryOp.Add: TensorPrimitives.Add(a, b, d); break;
            case BinaryOp.Sub: TensorPrimitives.Subtract(a, b, d); break;
            case BinaryOp.Mul: TensorPrimitives.Multiply(a, b, d); break;
            case BinaryOp.Div: TensorPrimitives.Divide(a, b, d); break;
            case BinaryOp.Max: TensorPrimitives.Max(a, b, d); break;
            case BinaryOp.Min: TensorPrimitives.Min(a, b, d); break;
        }
    }

    private static float Apply(BinaryOp op, float a, float b) => op switch
    {
        BinaryOp.Add => a + b,
        BinaryOp.Sub => a - b,
        BinaryOp.Mul => a * b,
        BinaryOp.Div => a / b,
        BinaryOp.Max => MathF.Max(a, b),
        _ => MathF.Min(a, b),
    };

    private struct BroadcastBody : IRangeBody
    {
        public BinaryOp Op;
        public float* A, B, D;
        public int[] Shape, SA, SB;
        public int Inner;

        public readonly void Run(int start, int end)
        {
            int rank = Shape.Length;
            int sai = SA[rank - 1], sbi = SB[rank - 1];
            for (int row = start; row < end; row++)
            {
                // Offsets of this row in A and B from its multi-index.
                long offA = 0, offB = 0;
                long r = row;
                for (int dim = rank - 2; dim >= 0; dim--)
                {
                    long idx = r % Shape[dim];
                    r /= Shape[dim];
                    offA += idx * SA[dim];
                    offB += idx * SB[dim];
                }
                float* pa = A + offA, pb = B + offB, pd = D + (long)row * Inner;
                var d = new Span<float>(pd, Inner);
                if (sai == 1 && sbi == 1) Apply(Op, new ReadOnlySpan<float>(pa, Inner), new ReadOnlySpan<float>(pb, Inner), d);
                else if (sai == 1 && sbi == 0) { var t = new ReadOnlySpan<float>(pa, Inner); ApplyScalarB(Op, t, *pb, d); }
                else
                {
                    for (int i = 0; i < Inner; i++) pd[i] = Apply(Op, pa[(long)i * sai], pb[(long)i * sbi]);
                }
            }
        }
    }

    private static void ApplyScalarB(BinaryOp op, ReadOnlySpan<float> a, float b, Span<float> d)
    {
        switch (op)
        {
            case BinaryOp.Add: TensorPrimitives.Add(a, b, d); break;
            case BinaryOp.Sub: TensorPrimitives.Subtract(a, b, d); break;
            case BinaryOp.Mul: TensorPrimitives.Multiply(a, b, d); break;
            case BinaryOp.Div: TensorPrimitives.Divide(a, b, d); break;
            case BinaryOp.Max: TensorPrimitives.Max(a, b, d); break;
            case BinaryOp.Min: TensorPrimitives.Min(a, b, d); break;
        }
    }

    /// <summary>a * s.</summary>
    public static Tensor Scale(Tensor a, float s)
    {
        using var ac = F32Contiguous(a);
        var r = Tensor.Empty(a.Shape);
        TensorPrimitives.Multiply(ac.Span, s, r.Span);
        return r;
    }

    /// <summary>a + s.</summary>
    public static Tensor AddScalar(Tensor a, float s)
    {
        using var ac = F32Contiguous(a);
        var r = Tensor.Empty(a.Shape);
        TensorPrimitives.Add(ac.Span, s, r.Span);
        return r;
    }

    /// <summary>dst += src (same shape, both contiguous).</summary>
    public static void AddInPlace(Tensor dst, Tensor src)
    {
        ShapeMismatchException.ThrowIfDifferent(dst, src, "AddInPlace");
        using var sc = F32Contiguous(src);
        TensorPrimitives.Add(dst.Span, sc.Span, dst.Span);
    }

    /// <summary>
    /// Sums <paramref name="g"/> down to <paramref name="shape"/> (the reverse of broadcasting): the gradient
    /// of a broadcast operand.
    /// </summary>
    public static Tensor SumTo(Tensor g, ReadOnlySpan<int> shape)
    {
        if (Tensor.SameShape(g.Shape, shape)) return g.Contiguous();
        int r = g.Rank, lead = r - shape.Length;
        if (lead < 0) throw new ShapeMismatchException($"cannot sum shape {Tensor.ShapeString(g.Shape)} to {Tensor.ShapeString(shape)}");
        using var gc = F32Contiguous(g);
        // Collapse g into (outer, reduce-or-keep pattern) with a generic strided accumulate.
        var result = Tensor.Zeros(shape);
        var target = result.BroadcastTo(g.Shape);
        var gs = gc.Shape;
        int inner = gs[^1];
        long rows = gc.Length / Math.Max(inner, 1);
        float* src = gc.Data;
        float* dst = result.Data;
        var ts = target.Strides;
        for (long row = 0; row < rows; row++)
        {
            long off = 0, rr = row;
            for (int dim = r - 2; dim >= 0; dim--)
            {
                long idx = rr % gs[dim];
                rr /= gs[dim];
                off += idx * ts[dim];
            }
            float* s = src + row * inner;
            int st = ts[r - 1];
            if (st == 0)
            {
                dst[off] += TensorPrimitives.Sum(new ReadOnlySpan<float>(s, inner));
            }
            else
            {
                var d = new Span<float>(dst + off, inner);
                TensorPrimitives.Add(d, new ReadOnlySpan<float>(s, inner), d);
            }
        }
        target.Dispose();
        return result;
    }
}
