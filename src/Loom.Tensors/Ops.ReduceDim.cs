using Loom.Tensors.Kernels;

namespace Loom.Tensors;

public static unsafe partial class Ops
{
    /// <summary>Splits a shape around <paramref name="dim"/> into (outer, n, inner) element counts.</summary>
    internal static (int Outer, int N, int Inner) SplitAt(int[] shape, int dim)
    {
        long outer = 1, inner = 1;
        for (int i = 0; i < dim; i++) outer *= shape[i];
        for (int i = dim + 1; i < shape.Length; i++) inner *= shape[i];
        return (checked((int)outer), shape[dim], checked((int)inner));
    }

    /// <summary>The shape after reducing <paramref name="dim"/>: kept as 1 or removed.</summary>
    public static int[] ReducedShape(int[] shape, int dim, bool keepDim)
    {
        if (keepDim)
        {
            var s = (int[])shape.Clone();
            s[dim] = 1;
            return s;
        }
        var r = new int[shape.Length - 1];
        for (int i = 0, j = 0; i < shape.Length; i++) if (i != dim) r[j++] = shape[i];
        return r;
    }

    private static int CheckReduceDim(Tensor x, int dim, string op)
    {
        if (x.Rank == 0) throw new ArgumentException($"{op}: cannot reduce along dimension {dim} of a 0-d tensor");
        int d = dim < 0 ? dim + x.Rank : dim;
        if ((uint)d >= (uint)x.Rank) throw new ArgumentOutOfRangeException(nameof(dim), $"{op}: dimension {dim} is out of range for a tensor of shape {Tensor.ShapeString(x.Shape)}");
        return d;
    }

    /// <summary>Sum along <paramref name="dim"/>.</summary>
    public static Tensor Sum(Tensor x, int dim, bool keepDim = false) => SumScaled(x, dim, keepDim, 1f, "Sum");

    /// <summary>Mean along <paramref name="dim"/>.</summary>
    public static Tensor Mean(Tensor x, int dim, bool keepDim = false)
    {
        int d = CheckReduceDim(x, dim, "Mean");
        return SumScaled(x, d, keepDim, 1f / x.Shape[d], "Mean");
    }

    private static Tensor SumScaled(Tensor x, int dim, bool keepDim, float scale, string op)
    {
        int d = CheckReduceDim(x, dim, op);
        using var xc = F32Contiguous(x);
        var (outer, n, inner) = SplitAt(x.Shape, d);
        var y = Tensor.Empty(ReducedShape(x.Shape, d, keepDim));
        if (n == 0) { y.Span.Fill(scale == 1f ? 0f : float.NaN); return y; }
        DimKernels.Sum(xc.Data, y.Data, outer, n, inner, scale);
        return y;
    }

    /// <summary>
    /// Max along <paramref name="dim"/>: values and the index of the (first) maximum. Indices are returned as an
    /// F32 tensor holding integers (exact below 2^24), since tensors are float.
    /// </summary>
    public static (Tensor Values, Tensor Indices) Max(Tensor x, int dim, bool keepDim = false)
    {
        int d = CheckReduceDim(x, dim, "Max");
        if (x.Shape[d] == 0) throw new ArgumentException($"Max: dimension {d} of shape {Tensor.ShapeString(x.Shape)} is empty");
        using var xc = F32Contiguous(x);
        var (outer, n, inner) = SplitAt(x.Shape, d);
        var shape = ReducedShape(x.Shape, d, keepDim);
        var values = Tensor.Empty(shape);
        var indices = Tensor.Empty(shape);
        DimKernels.Max(xc.Data, values.Data, indices.Data, outer, n, inner);
        return (values, indices);
    }

    /// <summary>Index of the (first) maximum along <paramref name="dim"/>, as integers in an F32 tensor.</summary>
    public static Tensor ArgMax(Tensor x, int dim, bool keepDim = false)
    {
        int d = CheckReduceDim(x, dim, "ArgMax");
        if (x.Shape[d] == 0) throw new ArgumentException($"ArgMax: dimension {d} of shape {Tensor.ShapeString(x.Shape)} is empty");
        using var xc = F32Contiguous(x);
        var (outer, n, inner) = SplitAt(x.Shape, d);
        var indices = Tensor.Empty(ReducedShape(x.Shape, d, keepDim));
        DimKernels.Max(xc.Data, null, indices.Data, outer, n, inner);
        return indices;
    }

    /// <summary>Variance along <paramref name="dim"/>, dividing by n - <paramref name="correction"/> (1: unbiased, PyTorch's default).</summary>
    public static Tensor Var(Tensor x, int dim, bool keepDim = false, int correction = 1)
    {
        int d = CheckReduceDim(x, dim, "Var");
        if (correction < 0) throw new ArgumentOutOfRangeException(nameof(correction), $"Var: correction {correction} must be non-negative");
        using var xc = F32Contiguous(x);
        var (outer, n, inner) = SplitAt(x.Shape, d);
        var y = Tensor.Empty(ReducedShape(x.Shape, d, keepDim));
        if (n == 0) { y.Span.Fill(float.NaN); return y; }
        DimKernels.Var(xc.Data, y.Data, outer, n, inner, correction);
        return y;
    }

    /// <summary>
    /// Backward of Sum/Mean along a dimension: g (the reduced shape, kept or not) times <paramref name="scale"/>,
    /// repeated along <paramref name="dim"/> to <paramref name="inputShape"/>.
    /// </summary>
    public static Tensor ExpandAlongDim(Tensor g, int[] inputShape, int dim, float scale = 1f)
    {
        var (outer, n, inner) = SplitAt(inputShape, dim);
        if (g.Length != (long)outer * inner) throw new ShapeMismatchException($"gradient of shape {Tensor.ShapeString(g.Shape)} does not match input {Tensor.ShapeString(inputShape)} reduced along {dim}");
        using var gc = F32Contiguous(g);
        var dx = Tensor.Empty(inputShape);
        DimKernels.Expand(gc.Data, dx.Data, outer, n, inner, scale);
        return dx;
    }

    /// <summary>Backward of Max along a dimension: g placed at the saved indices, zero elsewhere.</summary>
    public static Tensor MaxBackward(Tensor g, Tensor indices, int[] inputShape, int dim)
    {
        var (outer, n, inner) = SplitAt(inputShape, dim);
        if (g.Length != (long)outer * inner || indices.Length != g.Length)
            throw new ShapeMismatchException($"Max backward: gradient {Tensor.ShapeString(g.Shape)} / indices {Tensor.ShapeString(indices.Shape)} do not match input {Tensor.ShapeString(inputShape)} reduced along {dim}");
        using var gc = F32Contiguous(g);
        using var ic = F32Contiguous(indices);
        var dx = Tensor.Empty(inputShape);
        DimKernels.ScatterIndex(gc.Data, ic.Data, dx.Data, outer, n, inner);
        return dx;
    }

    /// <summary>
    /// Backward of Var along a dimension: dx = g * 2 (x - mean) / (n - correction), with g in the reduced shape.
    /// </summary>
    public static Tensor VarBackward(Tensor x, Tensor g, int dim, int correction)
    {
        int d = CheckReduceDim(x, dim, "Var backward");
        int n = x.Shape[d];
        using var mean = Mean(x, d, keepDim: true);
        using var diff = Sub(x, mean);
        using var gk = g.Reshape(ReducedShape(x.Shape, d, keepDim: true));
        using var prod = Mul(diff, gk);
        return Scale(prod, 2f / Math.Max(n - correction, 0));
    }

    /// <summary>Softmax along <paramref name="dim"/> (default the last), max-subtracted for stability.</summary>
    public static Tensor Softmax(Tensor x, int dim = -1) => SoftmaxCore(x, dim, log: false);

    /// <summary>Log-softmax along <paramref name="dim"/>: x - logsumexp(x).</summary>
    public static Tensor LogSoftmax(Tensor x, int dim = -1) => SoftmaxCore(x, dim, log: true);

    private static Tensor SoftmaxCore(Tensor x, int dim, bool log)
    {
        int d = CheckReduceDim(x, dim, log ? "LogSoftmax" : "Softmax");
        if (d != x.Rank - 1)
        {
            // Rows along another dimension: move it last, run the row kernel, move it back.
            using var t = x.Transpose(d, -1);
            using var yt = SoftmaxCore(t, -1, log);
            using var back = yt.Transpose(d, -1);
            return back.Contiguous();
        }
        using var xc = F32Contiguous(x);
        var y = Tensor.Empty(x.Shape);
        int n = x.Shape[^1];
        if (n == 0 || y.Length == 0) return y;
        RowKernels.Softmax(xc.Data, y.Data, (int)(y.Length / n), n, log);
        return y;
    }

    /// <summary>Softmax backward from its output <paramref name="y"/>: dx = y (g - sum(g y)).</summary>
    public static Tensor SoftmaxBackward(Tensor y, Tensor g, int dim = -1) => SoftmaxBackwardCore(y, g, dim, log: false);

    /// <summary>Log-softmax backward from its output <paramref name="y"/>: dx = g - exp(y) sum(g).</summary>
    public static Tensor LogSoftmaxBackward(Tensor y, Tensor g, int dim = -1) => SoftmaxBackwardCore(y, g, dim, log: true);

    private static Tensor SoftmaxBackwardCore(Tensor y, Tensor g, int dim, bool log)
    {
        ShapeMismatchException.ThrowIfDifferent(y, g, log ? "LogSoftmax backward" : "Softmax backward");
        int d = CheckReduceDim(y, dim, "Softmax backward");
        if (d != y.Rank - 1)
        {
            using var yt = y.Transpose(d, -1);
            using var gt = g.Transpose(d, -1);
            using var dt = SoftmaxBackwardCore(yt, gt, -1, log);
            using var back = dt.Transpose(d, -1);
            return back.Contiguous();
        }
        using var yc = F32Contiguous(y);
        using var gc = F32Contiguous(g);
        var dx = Tensor.Empty(y.Shape);
        int n = y.Shape[^1];
        if (n == 0 || dx.Length == 0) return dx;
        RowKernels.SoftmaxBackward(yc.Data, gc.Data, dx.Data, (int)(dx.Length / n), n, log);
        return dx;
    }
}
