using Loom.Tensors;

namespace Loom.Nn;

/// <summary>
/// Llama-style self-attention with grouped-query heads: q_proj (Hq*D, dim), k_proj and v_proj (Hkv*D, dim),
/// o_proj (dim, Hq*D), optional rotary embedding on q and k, fused (flash) attention, causal by default.
/// Input and output (B, T, dim).
/// </summary>
public sealed class MultiHeadAttention : Module
{
    public Linear QProj { get; }
    public Linear KProj { get; }
    public Linear VProj { get; }
    public Linear OProj { get; }
    public int Dim { get; }
    public int Heads { get; }
    public int KvHeads { get; }
    public int HeadDim { get; }
    public bool Causal { get; }

    /// <summary>RoPE base; null for no rotary embedding.</summary>
    public float? RopeTheta { get; }

    public RopeStyle RopeStyle { get; }

    public MultiHeadAttention(int dim, int heads, int kvHeads, Rng rng, int? headDim = null, bool bias = false, bool causal = true,
        float? ropeTheta = 10000f, RopeStyle ropeStyle = RopeStyle.Neox)
    {
        if (heads < 1 || kvHeads < 1 || heads % kvHeads != 0)
            throw new ArgumentException($"MultiHeadAttention: {heads} query heads must be a multiple of {kvHeads} KV heads");
        int d = headDim ?? (dim % heads == 0 ? dim / heads : throw new ArgumentException($"MultiHeadAttention: dim {dim} is not divisible by {heads} heads; pass headDim"));
        if (ropeTheta != null && d % 2 != 0) throw new ArgumentException($"MultiHeadAttention: rotary embedding needs an even head dimension, got {d}");
        Dim = dim;
        Heads = heads;
        KvHeads = kvHeads;
        HeadDim = d;
        Causal = causal;
        RopeTheta = ropeTheta;
        RopeStyle = ropeStyle;
        QProj = RegisterModule("q_proj", new Linear(dim, heads * d, bias, rng));
        KProj = RegisterModule("k_proj", new Linear(dim, kvHeads * d, bias, rng));
        VProj = RegisterModule("v_proj", new Linear(dim, kvHeads * d, bias, rng));
        OProj = RegisterModule("o_proj", new Linear(heads * d, dim, bias, rng));
    }

    /// <summary>
    /// x (B, T, dim); token t is at position <paramref name="positionOffset"/> + t for the rotary embedding. With a
    /// <paramref name="cache"/> (inference: no gradient flows through cached keys and values) the tokens continue
    /// the cached sequence, their position offset is the cache length, and they attend to every cached key.
    /// </summary>
    public Tensor Forward(Tensor x, int positionOffset = 0, KvCache? cache = null)
    {
        if (x.Rank != 3 || x.Shape[2] != Dim)
            throw new ShapeMismatchException($"MultiHeadAttention(dim {Dim}): input of shape {Tensor.ShapeString(x.Shape)}, expected (B, T, {Dim})");
        int b = x.Shape[0], t = x.Shape[1];
        int offset = cache?.Length ?? positionOffset;
        var q = Heads4(QProj.Forward(x), b, t, Heads, offset, rope: true);   // (B, Hq, T, D) view
        var k = Heads4(KProj.Forward(x), b, t, KvHeads, offset, rope: true); // (B, Hkv, T, D) view
        var v = Heads4(VProj.Forward(x), b, t, KvHeads, offset, rope: false);
        Tensor o;
        if (cache == null) o = F.Attention(q, k, v, Causal); // (B, Hq, T, D)
        else
        {
            var (kAll, vAll) = cache.Append(k, v);              // (B, Hkv, S, D), S = cached + T
            o = F.Attention(q, kAll, vAll, Causal);
            kAll.Dispose();
            vAll.Dispose();
        }
        var merged = F.Reshape(F.Transpose(o, 1, 2), b, t, Heads * HeadDim); // (B, T, Hq*D)
        return OProj.Forward(merged);
    }

    private Tensor Heads4(Tensor projected, int b, int t, int heads, int offset, bool rope)
    {
        var y = F.Reshape(projected, b, t, heads, HeadDim); // (B, T, H, D)
        if (rope && RopeTheta is float theta) y = F.Rope(y, offset, theta, RopeStyle);
        return F.Transpose(y, 1, 2); // (B, H, T, D), strided: attention reads it in place
    }
}
