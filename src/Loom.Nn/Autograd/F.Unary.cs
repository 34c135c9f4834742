using Loom.Tensors;

namespace Loom.Nn;

public static partial class F
{
    public static Tensor Neg(Tensor x) => Unary(x, UnaryOp.Neg);
    public static Tensor Exp(Tensor x) => Unary(x, UnaryOp.Exp);
    public static Tensor Log(Tensor x) => Unary(x, UnaryOp.Log);
    public static Tensor Sqrt(Tensor x) => Unary(x, UnaryOp.Sqrt);
    public static Tensor Rsqrt(Tensor x) => Unary(x, UnaryOp.Rsqrt);
    public static Tensor Square(Tensor x) => Unary(x, UnaryOp.Square);

    /// <summary>x^exponent elementwise (negative x with a non-integer exponent gives NaN, as in PyTorch).</summary>
    public static Tensor Pow(Tensor x, float exponent) => Unary(x, UnaryOp.Pow, exponent);

    public static Tensor Tanh(Tensor x) => Unary(x, UnaryOp.Tanh);
    public static Tensor Sigmoid(Tensor x) => Unary(x, UnaryOp.Sigmoid);
    public static Tensor Relu(Tensor x) => Unary(x, UnaryOp.Relu);
    public static Tensor Silu(Tensor x) => Unary(x, UnaryOp.Silu);

    /// <summary>GELU with PyTorch's <c>approximate</c> argument: "none" (exact, erf) or "tanh".</summary>
    public static Tensor Gelu(Tensor x, string approximate = "none") => approximate switch
    {
        "none" => Unary(x, UnaryOp.Gelu),
        "tanh" => Unary(x, UnaryOp.GeluTanh),
        _ => throw new ArgumentException($"Gelu: approximate must be \"none\" or \"tanh\", got \"{approximate}\"", nameof(approximate)),
    };

    /// <summary>Any <see cref="UnaryOp"/>, differentiable; <paramref name="param"/> is Pow's exponent.</summary>
    public static Tensor Unary(Tensor x, UnaryOp op, float param = 0f)
    {
        var y = Ops.Unary(x, op, param);
        return Autograd.ShouldRecord(x) ? Autograd.Record(y, new UnaryBackwardFn(x, op, param)) : y;
    }

    /// <summary>SwiGLU: silu(gate) * up (same shapes), fused forward and backward.</summary>
    public static Tensor SwiGlu(Tensor gate, Tensor up)
    {
        var y = Ops.SwiGlu(gate, up);
        return Autograd.ShouldRecord(gate, up) ? Autograd.Record(y, new SwiGluBackward(gate, up)) : y;
    }

    private sealed class UnaryBackwardFn(Tensor x, UnaryOp op, float param) : GradFn(x)
    {
        public override string Name => op + "Backward";

        public override void Backward(Tensor output, Tensor g)
        {
            var saved = Ops.UnaryBackwardUsesOutput(op) ? output : x;
            Autograd.Accumulate(x, Ops.UnaryBackward(op, saved, g, param), owned: true);
        }
    }

    private sealed class SwiGluBackward(Tensor gate, Tensor up) : GradFn(gate, up)
    {
        public override void Backward(Tensor output, Tensor g)
        {
            var (dg, du) = Ops.SwiGluBackward(gate, up, g, gate.RequiresGrad, up.RequiresGrad);
            if (dg != null) Autograd.Accumulate(gate, dg, owned: true);
            if (du != null) Autograd.Accumulate(up, du, owned: true);
        }
    }
}
