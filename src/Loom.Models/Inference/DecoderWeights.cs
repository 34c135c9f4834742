using Loom.Tensors.Quant;

namespace Loom.Models.Inference;

/// <summary>
/// One decoder layer's weights. Matrices stay in their file type (F32, F16, BF16 or a quant) as <see cref="QuantMatrix"/>;
/// norms and biases are f32. Either Q/K/V or the fused Qkv is set, and either Gate + Up or the fused GateUp.
/// </summary>
public sealed class DecoderLayerWeights
{
    public required float[] AttnNorm { get; init; }
    public QuantMatrix? Q { get; init; }
    public QuantMatrix? K { get; init; }
    public QuantMatrix? V { get; init; }
    /// <summary>Fused projection, rows [Q | K | V] (Phi-3).</summary>
    public QuantMatrix? Qkv { get; init; }
    public float[]? QBias { get; init; }
    public float[]? KBias { get; init; }
    public float[]? VBias { get; init; }
    /// <summary>Per-head RMSNorm of queries and keys before RoPE (Qwen3), HeadDim weights each.</summary>
    public float[]? QNorm { get; init; }
    public float[]? KNorm { get; init; }
    public required QuantMatrix AttnOutput { get; init; }
    /// <summary>RMSNorm of the attention output before the residual add (Gemma 2).</summary>
    public float[]? PostAttnNorm { get; init; }
    public required float[] FfnNorm { get; init; }
    public QuantMatrix? Gate { get; init; }
    public QuantMatrix? Up { get; init; }
    /// <summary>Fused projection, rows [gate | up] (Phi-3).</summary>
    public QuantMatrix? GateUp { get; init; }
    public required QuantMatrix Down { get; init; }
    /// <summary>RMSNorm of the MLP output before the residual add (Gemma 2).</summary>
    public float[]? PostFfnNorm { get; init; }
}

/// <summary>All weights of a decoder: token embedding (V, C), layers, final norm, output projection (V, C; the embedding when tied).</summary>
public sealed class DecoderWeights
{
    public required QuantMatrix TokenEmbedding { get; init; }
    public required DecoderLayerWeights[] Layers { get; init; }
    public required float[] OutputNorm { get; init; }
    public required QuantMatrix Output { get; init; }
    /// <summary>Whatever must stay alive while the matrices are used (the mapped file, pinned arrays).</summary>
    public object? Owner { get; init; }
}
