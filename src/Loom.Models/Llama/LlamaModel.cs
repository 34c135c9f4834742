using Loom.Nn;
using Loom.Tensors;

namespace Loom.Models.Llama;

/// <summary>
/// A Llama-family decoder-only transformer. One definition serves training (autograd through F ops) and
/// generation (the same code under NoGrad with a <see cref="LlamaCache"/>). Parameter names follow Hugging Face's
/// LlamaForCausalLM ("model.layers.0.self_attn.q_proj.weight", ...), so state dicts convert without renaming.
/// RoPE uses the Hugging Face "rotate half" (NeoX) layout.
/// </summary>
public sealed class LlamaModel : Module
{
    public LlamaConfig Config { get; }
    private readonly Backbone _model;
    private readonly Linear? _lmHead;

    public LlamaModel(LlamaConfig config, Rng rng)
    {
        config.Validate();
        Config = config;
        _model = RegisterModule("model", new Backbone(config, rng));
        if (!config.TieEmbeddings) _lmHead = RegisterModule("lm_head", new Linear(config.Dim, config.VocabSize, false, rng));
        InitWeights(rng);
    }

    /// <summary>
    /// GPT-2 / Llama initialisation: every matrix N(0, 0.02), the projections that write into the residual
    /// stream (o_proj, down_proj) scaled by 1/sqrt(2 * layers) so the residual's variance does not grow with
    /// depth, norms at 1. PyTorch's layer defaults (N(0, 1) embeddings) would start a tied model at a huge loss.
    /// </summary>
    private void InitWeights(Rng rng)
    {
        const float Std = 0.02f;
        float residualStd = Std / MathF.Sqrt(2f * Config.Layers);
        foreach (var (name, p) in NamedParameters())
        {
            if (p.Rank == 1) Init.Constant(p, 1f);
            else if (name.EndsWith("o_proj.weight", StringComparison.Ordinal) || name.EndsWith("down_proj.weight", StringComparison.Ordinal)) Init.Normal(p, rng, 0f, residualStd);
            else Init.Normal(p, rng, 0f, Std);
        }
    }

    /// <summary>
    /// Logits for token ids of shape (B, T). With a cache, the tokens continue the cached sequence and their
    /// keys/values are appended to it. Returns (B, T, vocab).
    /// </summary>
    public Tensor Forward(int[] ids, int batch, int time, LlamaCache? cache = null)
    {
        if (ids.Length != batch * time) throw new ArgumentException($"{ids.Length} token ids do not fill a batch of ({batch}, {time})");
        int start = cache?.Length ?? 0;
        if (start + time > Config.MaxSeqLen)
            throw new ArgumentException($"sequence of {start + time} tokens is longer than the model's context of {Config.MaxSeqLen}");
        var x = _model.Forward(ids, batch, time, start, cache);      // (B, T, C)
        var w = _lmHead?.Weight ?? _model.EmbedTokens.Weight;          // (V, C)
        var logits = F.MatMul(x, w, false, true);                      // (B, T, V)
        return logits;
    }

    /// <summary>Mean next-token cross-entropy of (B, T) inputs against (B, T) targets (ignore index -100).</summary>
    public Tensor Loss(int[] inputs, int[] targets, int batch, int time)
    {
        var logits = Forward(inputs, batch, time);                                  // (B, T, V)
        var flat = F.Reshape(logits, batch * time, Config.VocabSize);               // (B*T, V)
        return F.CrossEntropy(flat, targets);
    }

    private sealed class Backbone : Module
    {
        public Embedding EmbedTokens { get; }
        private readonly List<DecoderLayer> _layers = new();
        private readonly RmsNorm _norm;

        public Backbone(LlamaConfig c, Rng rng)
        {
            EmbedTokens = RegisterModule("embed_tokens", new Embedding(c.VocabSize, c.Dim, rng));
            var layers = RegisterModule("layers", new ModuleList());
            for (int i = 0; i < c.Layers; i++) _layers.Add(layers.Add(new DecoderLayer(c, i, rng)));
            _norm = RegisterModule("norm", new RmsNorm(c.Dim, c.NormEps));
        }

        public Tensor Forward(int[] ids, int batch, int time, int start, LlamaCache? cache)
        {
            var x = EmbedTokens.Forward(ids, batch, time);     // (B, T, C)
            foreach (var layer in _layers) x = layer.Forward(x, start, cache);
            return _norm.Forward(x);
        }
    }

    private sealed class DecoderLayer : Module
    {
        private readonly RmsNorm _inputNorm, _postNorm;
        private readonly Attention _attn;
        private readonly Mlp _mlp;

        public DecoderLayer(LlamaConfig c, int index, Rng rng)
        {
            _inputNorm = RegisterModule("input_layernorm", new RmsNorm(c.Dim, c.NormEps));
            _attn = RegisterModule("self_attn", new Attention(c, index, rng));
            _postNorm = RegisterModule("post_attention_layernorm", new RmsNorm(c.Dim, c.NormEps));
            _mlp = RegisterModule("mlp", new Mlp(c, rng));
        }

        public Tensor Forward(Tensor x, int start, LlamaCache? cache)
        {
            var h = F.Add(x, _attn.Forward(_inputNorm.Forward(x), start, cache));   // (B, T, C)
            return F.Add(h, _mlp.Forward(_postNorm.Forward(h)));                    // (B, T, C)
        }
    }

    private sealed class Attention : Module
    {
        private readonly LlamaConfig _c;
        private readonly int _layer;
        private readonly Linear _q, _k, _v, _o;

        public Attention(LlamaConfig c, int layer, Rng rng)
        {
            _c = c;
            _layer = layer;
            _q = RegisterModule("q_proj", new Linear(c.Dim, c.Heads * c.HeadDim, false, rng));
            _k = RegisterModule("k_proj", new Linear(c.Dim, c.KvHeads * c.HeadDim, false, rng));
            _v = RegisterModule("v_proj", new Linear(c.Dim, c.KvHeads * c.HeadDim, false, rng));
            _o = RegisterModule("o_proj", new Linear(c.Heads * c.HeadDim, c.Dim, false, rng));
        }

        public Tensor Forward(Tensor x, int start, LlamaCache? cache)
        {
            int b = x.Shape[0], t = x.Shape[1], d = _c.HeadDim;
            // RoPE works on (B, T, H, D), before the heads are moved out to dimension 1.
            var q = F.Transpose(F.Rope(F.Reshape(_q.Forward(x), b, t, _c.Heads, d), start, _c.RopeTheta), 1, 2);    // (B, Hq, T, D)
            var k = F.Transpose(F.Rope(F.Reshape(_k.Forward(x), b, t, _c.KvHeads, d), start, _c.RopeTheta), 1, 2);  // (B, Hkv, T, D)
            var v = F.Transpose(F.Reshape(_v.Forward(x), b, t, _c.KvHeads, d), 1, 2);                                // (B, Hkv, T, D)
            if (cache != null) (k, v) = cache.Layer(_layer).Append(k, v);   // (B, Hkv, S, D), S = start + T
            var y = F.Attention(q, k, v, causal: true, scale: 1f / MathF.Sqrt(d));   // (B, Hq, T, D)
            y = F.Reshape(F.Transpose(y, 1, 2), b, t, _c.Heads * d);                 // (B, T, C)
            return _o.Forward(y);
        }
    }

    private sealed class Mlp : Module
    {
        private readonly Linear _gate, _up, _down;

        public Mlp(LlamaConfig c, Rng rng)
        {
            _gate = RegisterModule("gate_proj", new Linear(c.Dim, c.FfnDim, false, rng));
            _up = RegisterModule("up_proj", new Linear(c.Dim, c.FfnDim, false, rng));
            _down = RegisterModule("down_proj", new Linear(c.FfnDim, c.Dim, false, rng));
        }

        public Tensor Forward(Tensor x) => _down.Forward(F.SwiGlu(_gate.Forward(x), _up.Forward(x)));   // (B, T, C)
    }
}
