using Loom.Tensors.Kernels;

namespace Loom.Tensors;

/// <summary>Unary elementwise functions with a fused backward kernel each.</summary>
public enum UnaryOp { Neg, Exp, Log, Sqrt, Rsqrt, Square, Pow, Tanh, Sigmoid, Relu, Gelu, GeluTanh, Silu }

public static unsafe partial class Ops
{
    public static Tensor Neg(Tensor x) => Unary(x, UnaryOp.Neg);
    public static Tensor Exp(Tensor x) => Unary(x, UnaryOp.Exp);
    public static Tensor Log(Tensor x) => Unary(x, UnaryOp.Log);
    public static Tensor Sqrt(Tensor x) => Unary(x, UnaryOp.Sqrt);
    public static Tensor Rsqrt(Tensor x) => Unary(x, UnaryOp.Rsqrt);
    public static Tensor Square(Tensor x) => Unary(x, UnaryOp.Square);
    public static Tensor Pow(Tensor x, float exponent) => Unary(x, UnaryOp.Pow, exponent);
    public static Tensor Tanh(Tensor x) => Unary(x, UnaryOp.Tanh);
    public static Tensor Sigmoid(Tensor x) => Unary(x, UnaryOp.Sigmoid);
    public static Tensor Relu(Tensor x) => Unary(x, UnaryOp.Relu);
    public static Tensor Silu(Tensor x) => Unary(x, UnaryOp.Silu);

    /// <summary>GELU; <paramref name="approximateTanh"/> selects PyTorch's approximate="tanh" form.</summary>
    public static Tensor Gelu(Tensor x, bool approximateTanh = false) => Unary(x, approximateTanh ? UnaryOp.GeluTanh : UnaryOp.Gelu);

    /// <summary>y = op(x) (contiguous, same shape); <paramref name="param"/> is the exponent of <see cref="UnaryOp.Pow"/>.</summary>
    public static Tensor Unary(Tensor x, UnaryOp op, float param = 0f)
    {
        using var xc = F32Contiguous(x);
        var y = Tensor.Empty(x.Shape);
        float* px = xc.Data, py = y.Data;
        long n = y.Length;
        switch (op)
        {
            case UnaryOp.Neg: Simd.Map(new NegFn(), px, py, n); break;
            case UnaryOp.Exp: Simd.Map(new ExpFn(), px, py, n); break;
            case UnaryOp.Log: Simd.Map(new LogFn(), px, py, n); break;
            case UnaryOp.Sqrt: Simd.Map(new SqrtFn(), px, py, n); break;
            case UnaryOp.Rsqrt: Simd.Map(new RsqrtFn(), px, py, n); break;
            case UnaryOp.Square: Simd.Map(new SquareFn(), px, py, n); break;
            case UnaryOp.Pow:
                if (param == 0f) y.Span.Fill(1f);
                else if (param == 1f) xc.Span.CopyTo(y.Span);
                else if (param == 2f) Simd.Map(new SquareFn(), px, py, n);
                else Simd.Map(new PowFn(param), px, py, n);
                break;
            case UnaryOp.Tanh: Simd.Map(new TanhFn(), px, py, n); break;
            case UnaryOp.Sigmoid: Simd.Map(new SigmoidFn(), px, py, n); break;
            case UnaryOp.Relu: Simd.Map(new ReluFn(), px, py, n); break;
            case UnaryOp.Gelu: Simd.Map(new GeluFn(), px, py, n); break;
            case UnaryOp.GeluTanh: Simd.Map(new GeluTanhFn(), px, py, n); break;
            case UnaryOp.Silu: Simd.Map(new SiluFn(), px, py, n); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, "unknown unary op");
        }
        return y;
    }

    /// <summary>Whether <see cref="UnaryBackward"/> needs the op's output (true) or its input (false).</summary>
    public static bool UnaryBackwardUsesOutput(UnaryOp op) => op is UnaryOp.Exp or UnaryOp.Sqrt or UnaryOp.Rsqrt;

    /// <summary>
    /// dx = g * op'(x). <paramref name="saved"/> is the output y for ops where <see cref="UnaryBackwardUsesOutput"/>
    /// is true, else the input x; <paramref name="g"/> has the same shape.
    /// </summary>
    public static Tensor UnaryBackward(UnaryOp op, Tensor saved, Tensor g, float param = 0f)
    {
        ShapeMismatchException.ThrowIfDifferent(saved, g, $"{op} backward");
        using var sc = F32Contiguous(saved);
        using var gc = F32Contiguous(g);
        var dx = Tensor.Empty(g.Shape);
        float* ps = sc.Data, pg = gc.Data, pd = dx.Data;
        long n = dx.Length;
        switch (op)
        {
            case UnaryOp.Neg: Simd.Map(new NegFn(), pg, pd, n); break;
            case UnaryOp.Exp: Simd.Map(new MulFn(), ps, pg, pd, n); break;
            case UnaryOp.Log: Simd.Map(new LogGradFn(), ps, pg, pd, n); break;
            case UnaryOp.Sqrt: Simd.Map(new SqrtGradFn(), ps, pg, pd, n); break;
            case UnaryOp.Rsqrt: Simd.Map(new RsqrtGradFn(), ps, pg, pd, n); break;
            case UnaryOp.Square: Simd.Map(new SquareGradFn(), ps, pg, pd, n); break;
            case UnaryOp.Pow:
                if (param == 0f) dx.Span.Clear();
                else if (param == 1f) gc.Span.CopyTo(dx.Span);
                else if (param == 2f) Simd.Map(new SquareGradFn(), ps, pg, pd, n);
                else Simd.Map(new PowGradFn(param), ps, pg, pd, n);
                break;
            case UnaryOp.Tanh: Simd.Map(new TanhGradFn(), ps, pg, pd, n); break;
            case UnaryOp.Sigmoid: Simd.Map(new SigmoidGradFn(), ps, pg, pd, n); break;
            case UnaryOp.Relu: Simd.Map(new ReluGradFn(), ps, pg, pd, n); break;
            case UnaryOp.Gelu: Simd.Map(new GeluGradFn(), ps, pg, pd, n); break;
            case UnaryOp.GeluTanh: Simd.Map(new GeluTanhGradFn(), ps, pg, pd, n); break;
            case UnaryOp.Silu: Simd.Map(new SiluGradFn(), ps, pg, pd, n); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, "unknown unary op");
        }
        return dx;
    }

    /// <summary>SwiGLU: silu(gate) * up, one pass. Shapes must match.</summary>
    public static Tensor SwiGlu(Tensor gate, Tensor up)
    {
        ShapeMismatchException.ThrowIfDifferent(gate, up, "SwiGlu(gate, up)");
        using var gc = F32Contiguous(gate);
        using var uc = F32Contiguous(up);
        var y = Tensor.Empty(gate.Shape);
        Simd.Map(new SwiGluFn(), gc.Data, uc.Data, y.Data, y.Length);
        return y;
    }

    /// <summary>Gradients of SwiGLU: dgate = g * up * silu'(gate), dup = g * silu(gate); either may be skipped.</summary>
    public static (Tensor? DGate, Tensor? DUp) SwiGluBackward(Tensor gate, Tensor up, Tensor g, bool needGate = true, bool needUp = true)
    {
        ShapeMismatchException.ThrowIfDifferent(gate, g, "SwiGlu backward");
        using var gc = F32Contiguous(gate);
        using var uc = F32Contiguous(up);
        using var oc = F32Contiguous(g);
        Tensor? dGate = null, dUp = null;
        if (needGate)
        {
            dGate = Tensor.Empty(gate.Shape);
            Simd.Map(new SwiGluGateGradFn(), gc.Data, uc.Data, oc.Data, dGate.Data, dGate.Length);
        }
        if (needUp)
        {
            dUp = Tensor.Empty(up.Shape);
            Simd.Map(new SwiGluFn(), gc.Data, oc.Data, dUp.Data, dUp.Length);
        }
        return (dGate, dUp);
    }
}
