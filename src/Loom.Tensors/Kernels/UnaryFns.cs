using System.Runtime.Intrinsics;
using V2 = System.Runtime.Intrinsics.Vector256<float>;
using V5 = System.Runtime.Intrinsics.Vector512<float>;

namespace Loom.Tensors.Kernels;

// Forward functions: y = f(x). Backward functions take (saved, g) where saved is x or y, whichever makes the
// derivative cheapest, and return dx.

/// <summary>-x.</summary>
public readonly struct NegFn : IVecFn1
{
    public V2 Invoke(V2 x) => -x;
    public V5 Invoke(V5 x) => -x;
}

/// <summary>e^x.</summary>
public readonly struct ExpFn : IVecFn1
{
    public V2 Invoke(V2 x) => Vector256.Exp(x);
    public V5 Invoke(V5 x) => Vector512.Exp(x);
}

/// <summary>ln x.</summary>
public readonly struct LogFn : IVecFn1
{
    public V2 Invoke(V2 x) => Vector256.Log(x);
    public V5 Invoke(V5 x) => Vector512.Log(x);
}

/// <summary>sqrt x.</summary>
public readonly struct SqrtFn : IVecFn1
{
    public V2 Invoke(V2 x) => Vector256.Sqrt(x);
    public V5 Invoke(V5 x) => Vector512.Sqrt(x);
}

/// <summary>1 / sqrt x (exact division, not the hardware estimate).</summary>
public readonly struct RsqrtFn : IVecFn1
{
    public V2 Invoke(V2 x) => V2.One / Vector256.Sqrt(x);
    public V5 Invoke(V5 x) => V5.One / Vector512.Sqrt(x);
}

/// <summary>x^2.</summary>
public readonly struct SquareFn : IVecFn1
{
    public V2 Invoke(V2 x) => x * x;
    public V5 Invoke(V5 x) => x * x;
}

/// <summary>x^p for a scalar p.</summary>
public readonly struct PowFn(float p) : IVecFn1
{
    private readonly bool _isInt = MathF.Round(p) == p;
    private readonly bool _odd = MathF.Round(p) == p && MathF.Abs(p % 2f) == 1f;

    public V2 Invoke(V2 x) => VMath.Pow(x, p, _isInt, _odd);
    public V5 Invoke(V5 x) => VMath.Pow(x, p, _isInt, _odd);
}

/// <summary>tanh x.</summary>
public readonly struct TanhFn : IVecFn1
{
    public V2 Invoke(V2 x) => VMath.Tanh(x);
    public V5 Invoke(V5 x) => VMath.Tanh(x);
}

/// <summary>1 / (1 + e^-x).</summary>
public readonly struct SigmoidFn : IVecFn1
{
    public V2 Invoke(V2 x) => VMath.Sigmoid(x);
    public V5 Invoke(V5 x) => VMath.Sigmoid(x);
}

/// <summary>max(x, 0), NaN propagating.</summary>
public readonly struct ReluFn : IVecFn1
{
    public V2 Invoke(V2 x) => Vector256.ConditionalSelect(Vector256.LessThan(x, V2.Zero), V2.Zero, x);
    public V5 Invoke(V5 x) => Vector512.ConditionalSelect(Vector512.LessThan(x, V5.Zero), V5.Zero, x);
}

/// <summary>x * Phi(x) (exact GELU).</summary>
public readonly struct GeluFn : IVecFn1
{
    public V2 Invoke(V2 x) => x * VMath.NormalCdf(x);
    public V5 Invoke(V5 x) => x * VMath.NormalCdf(x);
}

/// <summary>
/// 0.5 x (1 + tanh(k (x + 0.044715 x^3))), computed as x * sigmoid(2u) which is the same function without the
/// cancellation of 1 + tanh for negative x.
/// </summary>
public readonly struct GeluTanhFn : IVecFn1
{
    internal const float K = 0.7978845608028654f, C = 0.044715f;

    public V2 Invoke(V2 x)
    {
        var u = Vector256.Create(2f * K) * Vector256.FusedMultiplyAdd(Vector256.Create(C) * x * x, x, x);
        return x * VMath.Sigmoid(u);
    }

    public V5 Invoke(V5 x)
    {
        var u = Vector512.Create(2f * K) * Vector512.FusedMultiplyAdd(Vector512.Create(C) * x * x, x, x);
        return x * VMath.Sigmoid(u);
    }
}

/// <summary>x * sigmoid(x).</summary>
public readonly struct SiluFn : IVecFn1
{
    public V2 Invoke(V2 x) => x / (V2.One + Vector256.Exp(-x));
    public V5 Invoke(V5 x) => x / (V5.One + Vector512.Exp(-x));
}

// ---------- backward: (saved, g) -> dx ----------

/// <summary>g * y (exp, from the output).</summary>
public readonly struct MulFn : IVecFn2
{
    public V2 Invoke(V2 a, V2 b) => a * b;
    public V5 Invoke(V5 a, V5 b) => a * b;
}

/// <summary>g / x (log).</summary>
public readonly struct LogGradFn : IVecFn2
{
    public V2 Invoke(V2 x, V2 g) => g / x;
    public V5 Invoke(V5 x, V5 g) => g / x;
}

/// <summary>g / (2 y) (sqrt, from the output).</summary>
public readonly struct SqrtGradFn : IVecFn2
{
    public V2 Invoke(V2 y, V2 g) => g / (y + y);
    public V5 Invoke(V5 y, V5 g) => g / (y + y);
}

/// <summary>-g y^3 / 2 (rsqrt, from the output).</summary>
public readonly struct RsqrtGradFn : IVecFn2
{
    public V2 Invoke(V2 y, V2 g) => Vector256.Create(-0.5f) * g * y * y * y;
    public V5 Invoke(V5 y, V5 g) => Vector512.Create(-0.5f) * g * y * y * y;
}

/// <summary>2 x g (square).</summary>
public readonly struct SquareGradFn : IVecFn2
{
    public V2 Invoke(V2 x, V2 g) => (x + x) * g;
    public V5 Invoke(V5 x, V5 g) => (x + x) * g;
}

/// <summary>g p x^(p-1) (pow; p not 0 or 1, which the caller handles).</summary>
public readonly struct PowGradFn(float p) : IVecFn2
{
    private readonly PowFn _inner = new(p - 1f);

    public V2 Invoke(V2 x, V2 g) => Vector256.Create(p) * g * _inner.Invoke(x);
    public V5 Invoke(V5 x, V5 g) => Vector512.Create(p) * g * _inner.Invoke(x);
}

/// <summary>
/// g (1 - tanh^2 x) computed from x as 4e / (1 + e)^2 with e = exp(-2|x|): from the output it would be
/// 1 - y^2, which loses every digit where tanh saturates.
/// </summary>
public readonly struct TanhGradFn : IVecFn2
{
    public V2 Invoke(V2 x, V2 g)
    {
        var e = Vector256.Exp(Vector256.Create(-2f) * Vector256.Abs(x));
        var d = V2.One + e;
        return g * Vector256.Create(4f) * e / (d * d);
    }

    public V5 Invoke(V5 x, V5 g)
    {
        var e = Vector512.Exp(Vector512.Create(-2f) * Vector512.Abs(x));
        var d = V5.One + e;
        return g * Vector512.Create(4f) * e / (d * d);
    }
}

/// <summary>g s (1 - s) computed from x as e / (1 + e)^2 with e = exp(-|x|), accurate where sigmoid saturates.</summary>
public readonly struct SigmoidGradFn : IVecFn2
{
    public V2 Invoke(V2 x, V2 g)
    {
        var e = Vector256.Exp(-Vector256.Abs(x));
        var d = V2.One + e;
        return g * e / (d * d);
    }

    public V5 Invoke(V5 x, V5 g)
    {
        var e = Vector512.Exp(-Vector512.Abs(x));
        var d = V5.One + e;
        return g * e / (d * d);
    }
}

/// <summary>g where x &gt; 0, else 0 (relu).</summary>
public readonly struct ReluGradFn : IVecFn2
{
    public V2 Invoke(V2 x, V2 g) => Vector256.ConditionalSelect(Vector256.GreaterThan(x, V2.Zero), g, V2.Zero);
    public V5 Invoke(V5 x, V5 g) => Vector512.ConditionalSelect(Vector512.GreaterThan(x, V5.Zero), g, V5.Zero);
}

/// <summary>g (Phi(x) + x phi(x)) (exact GELU).</summary>
public readonly struct GeluGradFn : IVecFn2
{
    private const float InvSqrt2Pi = 0.3989422804014327f;

    public V2 Invoke(V2 x, V2 g)
    {
        var pdf = Vector256.Create(InvSqrt2Pi) * Vector256.Exp(Vector256.Create(-0.5f) * x * x);
        return g * Vector256.FusedMultiplyAdd(x, pdf, VMath.NormalCdf(x));
    }

    public V5 Invoke(V5 x, V5 g)
    {
        var pdf = Vector512.Create(InvSqrt2Pi) * Vector512.Exp(Vector512.Create(-0.5f) * x * x);
        return g * Vector512.FusedMultiplyAdd(x, pdf, VMath.NormalCdf(x));
    }
}

/// <summary>g (s + 2 x s (1 - s) k (1 + 3c x^2)) with s = sigmoid(2u) (tanh GELU).</summary>
public readonly struct GeluTanhGradFn : IVecFn2
{
    public V2 Invoke(V2 x, V2 g)
    {
        var x2 = x * x;
        var u = Vector256.Create(2f * GeluTanhFn.K) * Vector256.FusedMultiplyAdd(Vector256.Create(GeluTanhFn.C) * x2, x, x);
        var s = VMath.Sigmoid(u);
        var du = Vector256.Create(2f * GeluTanhFn.K) * Vector256.FusedMultiplyAdd(Vector256.Create(3f * GeluTanhFn.C), x2, V2.One);
        return g * Vector256.FusedMultiplyAdd(x * s * (V2.One - s), du, s);
    }

    public V5 Invoke(V5 x, V5 g)
    {
        var x2 = x * x;
        var u = Vector512.Create(2f * GeluTanhFn.K) * Vector512.FusedMultiplyAdd(Vector512.Create(GeluTanhFn.C) * x2, x, x);
        var s = VMath.Sigmoid(u);
        var du = Vector512.Create(2f * GeluTanhFn.K) * Vector512.FusedMultiplyAdd(Vector512.Create(3f * GeluTanhFn.C), x2, V5.One);
        return g * Vector512.FusedMultiplyAdd(x * s * (V5.One - s), du, s);
    }
}

/// <summary>g s (1 + x (1 - s)) with s = sigmoid(x) (silu).</summary>
public readonly struct SiluGradFn : IVecFn2
{
    public V2 Invoke(V2 x, V2 g)
    {
        var s = VMath.Sigmoid(x);
        return g * s * Vector256.FusedMultiplyAdd(x, V2.One - s, V2.One);
    }

    public V5 Invoke(V5 x, V5 g)
    {
        var s = VMath.Sigmoid(x);
        return g * s * Vector512.FusedMultiplyAdd(x, V5.One - s, V5.One);
    }
}

/// <summary>silu(gate) * up: SwiGLU's forward in one pass.</summary>
public readonly struct SwiGluFn : IVecFn2
{
    public V2 Invoke(V2 gate, V2 up) => gate * up / (V2.One + Vector256.Exp(-gate));
    public V5 Invoke(V5 gate, V5 up) => gate * up / (V5.One + Vector512.Exp(-gate));
}

/// <summary>d swiglu / d gate: g * up * silu'(gate).</summary>
public readonly struct SwiGluGateGradFn : IVecFn3
{
    public V2 Invoke(V2 gate, V2 up, V2 g) => new SiluGradFn().Invoke(gate, g * up);
    public V5 Invoke(V5 gate, V5 up, V5 g) => new SiluGradFn().Invoke(gate, g * up);
}
