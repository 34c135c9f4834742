using Loom.Tensors;

namespace Loom.Models.Inference;

/// <summary>The feed-forward gate activation of a gated MLP: SwiGLU (Llama, Qwen, Phi-3) or GeGLU with tanh GELU (Gemma).</summary>
public enum FfnActivation { Silu, GeluTanh }

/// <summary>Precision of the cached keys and values.</summary>
public enum KvCacheType { F32, F16 }

/// <summary>
/// Shape and graph options of a Llama-family decoder as llama.cpp builds it: grouped-query attention with RoPE,
/// RMSNorm, a gated MLP, plus the per-architecture extras (QKV bias, Q/K norm, fused projections, embedding scale,
/// post-norms, soft-capping, sliding-window layers). One definition serves every architecture.
/// </summary>
public sealed record DecoderConfig
{
    /// <summary>The GGUF <c>general.architecture</c> this came from (llama, qwen2, qwen3, phi3, gemma, gemma2).</summary>
    public required string Architecture { get; init; }
    public required int VocabSize { get; init; }
    /// <summary>Residual stream width (n_embd).</summary>
    public required int Dim { get; init; }
    public required int Layers { get; init; }
    public required int Heads { get; init; }
    public required int KvHeads { get; init; }
    /// <summary>Key (and query) width per head (n_embd_head_k).</summary>
    public required int HeadDim { get; init; }
    /// <summary>Value width per head (n_embd_head_v).</summary>
    public required int ValueDim { get; init; }
    public required int FfnDim { get; init; }
    /// <summary>Positions the model was trained for.</summary>
    public required int ContextLength { get; init; }
    public float NormEps { get; init; } = 1e-5f;

    public float RopeTheta { get; init; } = 10000f;
    /// <summary>Leading dimensions of each head that RoPE rotates (the rest pass through).</summary>
    public required int RopeDim { get; init; }
    public RopeStyle RopeStyle { get; init; } = RopeStyle.Normal;
    /// <summary>Multiplies every rotation angle (1 / linear scaling factor).</summary>
    public float RopeFreqScale { get; init; } = 1f;
    /// <summary>Per-frequency divisors (llama3 rope_freqs), RopeDim / 2 of them, or null.</summary>
    public float[]? RopeFreqFactors { get; init; }

    public FfnActivation Activation { get; init; } = FfnActivation.Silu;
    /// <summary>Multiply token embeddings by sqrt(Dim) (Gemma).</summary>
    public bool ScaleEmbedding { get; init; }
    /// <summary>Scale applied to the queries before q·k (1/sqrt(HeadDim) unless the architecture says otherwise).</summary>
    public required float AttentionScale { get; init; }
    /// <summary>Attention logit soft-cap (cap · tanh(s / cap)); 0 disables.</summary>
    public float AttentionSoftCap { get; init; }
    /// <summary>Final logit soft-cap; 0 disables.</summary>
    public float FinalSoftCap { get; init; }
    /// <summary>Sliding-window size for the layers in <see cref="SlidingLayers"/>; 0 disables.</summary>
    public int SlidingWindow { get; init; }
    /// <summary>Which layers use the sliding window (null: none).</summary>
    public bool[]? SlidingLayers { get; init; }

    public int QueryWidth => Heads * HeadDim;
    public int KeyWidth => KvHeads * HeadDim;
    public int ValueWidth => KvHeads * ValueDim;

    /// <summary>Bytes one cached token's keys and values take over all layers.</summary>
    public long KvBytesPerToken(KvCacheType type) => (long)Layers * (KeyWidth + ValueWidth) * (type == KvCacheType.F16 ? 2 : 4);

    /// <summary>Checks the numbers fit together; <paramref name="source"/> names the file in the message.</summary>
    public void Validate(string source)
    {
        void Positive(int v, string name)
        {
            if (v <= 0) throw new Loom.Formats.ModelFileException(source, $"{name} must be positive, got {v}");
        }
        Positive(VocabSize, "vocabulary size");
        Positive(Dim, "embedding_length");
        Positive(Layers, "block_count");
        Positive(Heads, "attention.head_count");
        Positive(KvHeads, "attention.head_count_kv");
        Positive(HeadDim, "attention.key_length");
        Positive(ValueDim, "attention.value_length");
        Positive(FfnDim, "feed_forward_length");
        Positive(ContextLength, "context_length");
        if (Heads % KvHeads != 0) throw new Loom.Formats.ModelFileException(source, $"attention.head_count {Heads} is not a multiple of attention.head_count_kv {KvHeads}");
        if (RopeDim <= 0 || RopeDim > HeadDim || RopeDim % 2 != 0) throw new Loom.Formats.ModelFileException(source, $"rope.dimension_count {RopeDim} must be even and at most the head size {HeadDim}");
        if (!(RopeTheta > 0)) throw new Loom.Formats.ModelFileException(source, $"rope.freq_base {RopeTheta} must be positive");
        if (!(NormEps > 0)) throw new Loom.Formats.ModelFileException(source, $"layer_norm_rms_epsilon {NormEps} must be positive");
        if (RopeFreqFactors != null && RopeFreqFactors.Length != RopeDim / 2) throw new Loom.Formats.ModelFileException(source, $"rope_freqs has {RopeFreqFactors.Length} factors, expected {RopeDim / 2}");
        if (SlidingLayers != null && SlidingLayers.Length != Layers) throw new Loom.Formats.ModelFileException(source, "sliding-window layer pattern does not cover every layer");
    }
}
