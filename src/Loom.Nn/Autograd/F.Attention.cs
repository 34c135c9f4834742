using Loom.Tensors;

namespace Loom.Nn;

public static partial class F
{
    /// <summary>
    /// Rotary position embedding of x (B, T, H, D) (heads not yet transposed out), positions
    /// <paramref name="positionOffset"/> + t; see <see cref="Ops.Rope"/>. The gradient is the inverse rotation.
    /// </summary>
    public static Tensor Rope(Tensor x, int positionOffset = 0, float theta = 10000f, RopeStyle style = RopeStyle.Neox)
    {
        var y = Ops.Rope(x, positionOffset, theta, style);
        return Autograd.ShouldRecord(x) ? Autograd.Record(y, new RopeBackwardFn(x, positionOffset, theta, style)) : y;
    }

    /// <summary>
    /// Fused causal/non-causal scaled-dot-product attention with grouped-query heads: q (B, Hq, T, D), k and v
    /// (B, Hkv, S, D), output (B, Hq, T, D); see <see cref="Ops.Attention"/>. Only the per-row logsumexp is kept
    /// for the backward pass.
    /// </summary>
    public static Tensor Attention(Tensor q, Tensor k, Tensor v, bool causal = true, float? scale = null)
    {
        if (!Autograd.ShouldRecord([q, k, v])) return Ops.Attention(q, k, v, causal, scale);
        var o = Ops.AttentionWithLse(q, k, v, causal, scale, out var lse);
        return Autograd.Record(o, new AttentionBackwardFn(q, k, v, lse, causal, scale));
    }

    private sealed class RopeBackwardFn(Tensor x, int offset, float theta, RopeStyle style) : GradFn(x)
    {
        public override void Backward(Tensor output, Tensor g) => Autograd.Accumulate(x, Ops.RopeBackward(g, offset, theta, style), owned: true);
    }

    private sealed class AttentionBackwardFn(Tensor q, Tensor k, Tensor v, Tensor lse, bool causal, float? scale) : GradFn(q, k, v)
    {
        public override void Backward(Tensor output, Tensor g)
        {
            Ops.AttentionBackward(q, k, v, output, lse, g, causal, scale, out var dq, out var dk, out var dv);
            lse.Dispose(); // the tape runs each GradFn once
            Autograd.Accumulate(q, dq, owned: true);
            Autograd.Accumulate(k, dk, owned: true);
            Autograd.Accumulate(v, dv, owned: true);
        }
    }
}
