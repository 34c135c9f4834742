using Loom.Models.Llama;
using Loom.Tensors;
using Loom.Tensors.Quant;

namespace Loom.Models.Inference;

/// <summary>
/// A Loom <see cref="LlamaModel"/> stepped on ragged batches: one shared forward pass over all rows, per-slot KV caches.
/// The matrices are used in place (F32 views of the model's parameters), so the model must stay alive and unchanged
/// while this is used.
/// </summary>
public sealed class LlamaBatchedLm : IBatchedLm
{
    private readonly DecoderBatch _batch;

    public LlamaBatchedLm(LlamaModel model, int slots, int contextLength, KvCacheType cacheType = KvCacheType.F32)
    {
        if (contextLength > model.Config.MaxSeqLen)
            throw new ArgumentOutOfRangeException(nameof(contextLength), contextLength, $"the model's context is {model.Config.MaxSeqLen} tokens");
        Decoder = FromLlama(model);
        _batch = Decoder.CreateBatch(slots, contextLength, cacheType);
    }

    /// <summary>The inference view of the model.</summary>
    public DecoderModel Decoder { get; }

    /// <summary>
    /// The decoder graph of a Loom Llama: Hugging Face tensor names, split-halves (NeoX) RoPE, SwiGLU, untied or tied output.
    /// </summary>
    public static DecoderModel FromLlama(LlamaModel model)
    {
        var c = model.Config;
        var config = new DecoderConfig
        {
            Architecture = "llama",
            VocabSize = c.VocabSize, Dim = c.Dim, Layers = c.Layers, Heads = c.Heads, KvHeads = c.KvHeads,
            HeadDim = c.HeadDim, ValueDim = c.HeadDim, FfnDim = c.FfnDim, ContextLength = c.MaxSeqLen,
            NormEps = c.NormEps, RopeTheta = c.RopeTheta, RopeDim = c.HeadDim, RopeStyle = RopeStyle.Neox,
            AttentionScale = 1f / MathF.Sqrt(c.HeadDim),
        };
        var sd = model.StateDict();
        QuantMatrix M(string name) => Matrix(sd, name);
        float[] V(string name) => sd[name].ToArray();
        var layers = new DecoderLayerWeights[c.Layers];
        for (int i = 0; i < c.Layers; i++)
        {
            string p = $"model.layers.{i}.";
            layers[i] = new DecoderLayerWeights
            {
                AttnNorm = V(p + "input_layernorm.weight"),
                Q = M(p + "self_attn.q_proj.weight"), K = M(p + "self_attn.k_proj.weight"), V = M(p + "self_attn.v_proj.weight"),
                AttnOutput = M(p + "self_attn.o_proj.weight"),
                FfnNorm = V(p + "post_attention_layernorm.weight"),
                Gate = M(p + "mlp.gate_proj.weight"), Up = M(p + "mlp.up_proj.weight"), Down = M(p + "mlp.down_proj.weight"),
            };
        }
        var embed = M("model.embed_tokens.weight");
        var weights = new DecoderWeights
        {
            TokenEmbedding = embed, Layers = layers, OutputNorm = V("model.norm.weight"),
            Output = sd.ContainsKey("lm_head.weight") ? M("lm_head.weight") : embed, Owner = model,
        };
        return new DecoderModel(config, weights, "LlamaModel");
    }

    /// <summary>A 2-D f32 parameter as an F32 QuantMatrix over its memory (copied to a pinned array when not contiguous f32).</summary>
    private static unsafe QuantMatrix Matrix(Dictionary<string, Tensor> sd, string name)
    {
        var t = sd[name];
        if (t.Rank != 2) throw new ArgumentException($"parameter '{name}' is not a matrix");
        if (t.DType == DType.F32 && t.IsContiguous) return new QuantMatrix(GgmlType.F32, t.Shape[0], t.Shape[1], t.RawData, t);
        var copy = GC.AllocateArray<float>(t.Shape[0] * t.Shape[1], pinned: true);
        t.ToArray().CopyTo(copy, 0);
        fixed (float* p = copy) return new QuantMatrix(GgmlType.F32, t.Shape[0], t.Shape[1], (byte*)p, copy);
    }

    public int VocabSize => _batch.VocabSize;
    public int ContextLength => _batch.ContextLength;
    public int SlotCount => _batch.SlotCount;
    public int SlotLength(int slot) => _batch.SlotLength(slot);
    public void TruncateSlot(int slot, int length) => _batch.TruncateSlot(slot, length);
    public void Forward(ReadOnlySpan<BatchRow> rows, Span<float> logits) => _batch.Forward(rows, logits);
    public void Dispose() => _batch.Dispose();
}
