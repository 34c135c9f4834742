using Loom.Tensors.Kernels;

namespace Loom.Tensors;

public static unsafe partial class Ops
{
    /// <summary>
    /// Scaled-dot-product attention, fused (see <see cref="FlashAttention"/>): q (B, Hq, T, D), k and v (B, Hkv, S, D)
    /// with Hq a multiple of Hkv (query head h reads KV head h / (Hq / Hkv), as Llama's repeat_kv does).
    /// With <paramref name="causal"/> the queries are the last T of the S positions (S &gt;= T). The scale defaults
    /// to 1/sqrt(D). Inputs may be strided views (a transposed (B, T, H, D) projection) as long as D is contiguous.
    /// Returns the output (B, Hq, T, D).
    /// </summary>
    public static Tensor Attention(Tensor q, Tensor k, Tensor v, bool causal = true, float? scale = null)
    {
        var o = AttentionCore(q, k, v, causal, scale, withLse: false, out var lse);
        lse?.Dispose();
        return o;
    }

    /// <summary><see cref="Attention"/> that also returns the per-row logsumexp (B, Hq, T) of the scaled, masked scores for the backward pass.</summary>
    public static Tensor AttentionWithLse(Tensor q, Tensor k, Tensor v, bool causal, float? scale, out Tensor lse)
    {
        var o = AttentionCore(q, k, v, causal, scale, withLse: true, out var l);
        lse = l!;
        return o;
    }

    /// <summary>
    /// Gradients of <see cref="Attention"/> from its inputs, output <paramref name="o"/>, logsumexp and the output
    /// gradient: dq like q, dk and dv like k and v (summed over the query heads sharing each KV head).
    /// </summary>
    public static void AttentionBackward(Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse, Tensor gradOutput, bool causal, float? scale,
        out Tensor dq, out Tensor dk, out Tensor dv)
        => AttentionBackward(q, k, v, o, lse, gradOutput, causal, scale, null, out dq, out dk, out dv);

    /// <summary><see cref="AttentionBackward(Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, bool, float?, out Tensor, out Tensor, out Tensor)"/> with the kernel's fused/two-pass choice forced (null: automatic); tests compare both.</summary>
    internal static void AttentionBackward(Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse, Tensor gradOutput, bool causal, float? scale,
        bool? fused, out Tensor dq, out Tensor dk, out Tensor dv)
    {
        CheckAttentionShapes(q, k, v, causal);
        int b = q.Shape[0], hq = q.Shape[1], t = q.Shape[2], d = q.Shape[3];
        int hkv = k.Shape[1], s = k.Shape[2];
        if (!Tensor.SameShape(o.Shape, q.Shape) || !Tensor.SameShape(gradOutput.Shape, q.Shape) || !Tensor.SameShape(lse.Shape, [b, hq, t]))
            throw new ShapeMismatchException($"AttentionBackward: output {Tensor.ShapeString(o.Shape)}, output gradient {Tensor.ShapeString(gradOutput.Shape)} and logsumexp {Tensor.ShapeString(lse.Shape)} do not fit q {Tensor.ShapeString(q.Shape)}");
        using var qv = HeadMajor(q);
        using var kv = HeadMajor(k);
        using var vv = HeadMajor(v);
        using var oc = F32Contiguous(o);
        using var gc = F32Contiguous(gradOutput);
        using var lc = F32Contiguous(lse);
        var problem = MakeProblem(qv, kv, vv, causal, scale);
        dq = Tensor.Empty(b, hq, t, d);
        dk = Tensor.Empty(b, hkv, s, d);
        dv = Tensor.Empty(b, hkv, s, d);
        FlashAttention.Backward(problem, oc.Data, gc.Data, lc.Data, dq.Data, dk.Data, dv.Data, fused);
    }

    private static Tensor AttentionCore(Tensor q, Tensor k, Tensor v, bool causal, float? scale, bool withLse, out Tensor? lse)
    {
        CheckAttentionShapes(q, k, v, causal);
        int b = q.Shape[0], hq = q.Shape[1], t = q.Shape[2], d = q.Shape[3];
        using var qv = HeadMajor(q);
        using var kv = HeadMajor(k);
        using var vv = HeadMajor(v);
        var problem = MakeProblem(qv, kv, vv, causal, scale);
        var o = Tensor.Empty(b, hq, t, d);
        lse = withLse ? Tensor.Empty(b, hq, t) : null;
        FlashAttention.Forward(problem, o.Data, lse == null ? null : lse.Data);
        return o;
    }

    private static void CheckAttentionShapes(Tensor q, Tensor k, Tensor v, bool causal)
    {
        string Shapes() => $"q {Tensor.ShapeString(q.Shape)}, k {Tensor.ShapeString(k.Shape)}, v {Tensor.ShapeString(v.Shape)}";
        if (q.Rank != 4 || k.Rank != 4 || v.Rank != 4)
            throw new ShapeMismatchException($"Attention needs (B, H, T, D) tensors: {Shapes()}");
        if (!Tensor.SameShape(k.Shape, v.Shape) || k.Shape[0] != q.Shape[0] || k.Shape[3] != q.Shape[3])
            throw new ShapeMismatchException($"Attention: k and v must be (B, Hkv, S, D) with q's B and D: {Shapes()}");
        if (k.Shape[1] == 0 || q.Shape[1] % k.Shape[1] != 0)
            throw new ShapeMismatchException($"Attention: query heads must be a multiple of KV heads: {Shapes()}");
        if (causal && k.Shape[2] < q.Shape[2])
            throw new ShapeMismatchException($"Attention: causal attention needs at least as many keys as queries: {Shapes()}");
    }

    /// <summary>F32 with a contiguous last dimension (a view when it already is, else a copy).</summary>
    private static Tensor HeadMajor(Tensor t) =>
        t.DType == DType.F32 && (t.Strides[3] == 1 || t.Shape[3] == 1) ? t.Transpose(0, 0) : F32Contiguous(t);

    private static FlashAttention.Problem MakeProblem(Tensor q, Tensor k, Tensor v, bool causal, float? scale) => new()
    {
        B = q.Shape[0], Hq = q.Shape[1], Hkv = k.Shape[1], T = q.Shape[2], S = k.Shape[2], D = q.Shape[3],
        Causal = causal,
        Scale = scale ?? 1f / MathF.Sqrt(q.Shape[3]),
        Q = Layout(q), K = Layout(k), V = Layout(v),
    };

    private static HeadLayout Layout(Tensor t) => new(t.Data, t.Strides[0], t.Strides[1], t.Strides[2]);
}
