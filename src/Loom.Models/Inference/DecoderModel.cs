using Loom.Formats;
using Loom.Tensors.Quant;

namespace Loom.Models.Inference;

/// <summary>
/// A Llama-family decoder ready for inference: its <see cref="DecoderConfig"/>, its weights (checked against the
/// config's shapes) and the RoPE angle table. Immutable and shareable; <see cref="CreateBatch"/> makes the stateful
/// part (KV-cache slots and work buffers).
/// </summary>
public sealed class DecoderModel
{
    public DecoderConfig Config { get; }
    public DecoderWeights Weights { get; }
    private readonly object _ropeLock = new();
    private volatile float[] _rope = [];   // (positions, RopeDim / 2, 2): cos, sin

    /// <summary>Checks every weight's shape; <paramref name="source"/> names the file in errors.</summary>
    public DecoderModel(DecoderConfig config, DecoderWeights weights, string source)
    {
        config.Validate(source);
        Config = config;
        Weights = weights;
        var c = config;
        Check(weights.TokenEmbedding, c.VocabSize, c.Dim, "token_embd.weight", source);
        Check(weights.Output, c.VocabSize, c.Dim, "output.weight", source);
        CheckVec(weights.OutputNorm, c.Dim, "output_norm.weight", source);
        if (weights.Layers.Length != c.Layers) throw new ModelFileException(source, $"{weights.Layers.Length} layers of weights, block_count says {c.Layers}");
        for (int i = 0; i < c.Layers; i++)
        {
            var l = weights.Layers[i];
            string p = $"blk.{i}.";
            CheckVec(l.AttnNorm, c.Dim, p + "attn_norm.weight", source);
            if (l.Qkv != null) Check(l.Qkv, c.QueryWidth + c.KeyWidth + c.ValueWidth, c.Dim, p + "attn_qkv.weight", source);
            else
            {
                Check(l.Q ?? throw Missing(source, p + "attn_q.weight"), c.QueryWidth, c.Dim, p + "attn_q.weight", source);
                Check(l.K ?? throw Missing(source, p + "attn_k.weight"), c.KeyWidth, c.Dim, p + "attn_k.weight", source);
                Check(l.V ?? throw Missing(source, p + "attn_v.weight"), c.ValueWidth, c.Dim, p + "attn_v.weight", source);
            }
            if (l.QBias != null) CheckVec(l.QBias, c.QueryWidth, p + "attn_q.bias", source);
            if (l.KBias != null) CheckVec(l.KBias, c.KeyWidth, p + "attn_k.bias", source);
            if (l.VBias != null) CheckVec(l.VBias, c.ValueWidth, p + "attn_v.bias", source);
            if (l.QNorm != null) CheckVec(l.QNorm, c.HeadDim, p + "attn_q_norm.weight", source);
            if (l.KNorm != null) CheckVec(l.KNorm, c.HeadDim, p + "attn_k_norm.weight", source);
            Check(l.AttnOutput, c.Dim, c.Heads * c.ValueDim, p + "attn_output.weight", source);
            if (l.PostAttnNorm != null) CheckVec(l.PostAttnNorm, c.Dim, p + "post_attention_norm.weight", source);
            CheckVec(l.FfnNorm, c.Dim, p + "ffn_norm.weight", source);
            if (l.GateUp != null) Check(l.GateUp, 2 * c.FfnDim, c.Dim, p + "ffn_up.weight", source);
            else
            {
                Check(l.Gate ?? throw Missing(source, p + "ffn_gate.weight"), c.FfnDim, c.Dim, p + "ffn_gate.weight", source);
                Check(l.Up ?? throw Missing(source, p + "ffn_up.weight"), c.FfnDim, c.Dim, p + "ffn_up.weight", source);
            }
            Check(l.Down, c.Dim, c.FfnDim, p + "ffn_down.weight", source);
            if (l.PostFfnNorm != null) CheckVec(l.PostFfnNorm, c.Dim, p + "post_ffw_norm.weight", source);
        }
    }

    private static ModelFileException Missing(string source, string name) => new(source, $"tensor '{name}' is missing");

    private static void Check(QuantMatrix m, int rows, int cols, string name, string source)
    {
        if (m.Rows != rows || m.Cols != cols)
            throw new ModelFileException(source, $"tensor '{name}' has shape ({m.Rows}, {m.Cols}), expected ({rows}, {cols})");
    }

    private static void CheckVec(float[] v, int n, string name, string source)
    {
        if (v.Length != n) throw new ModelFileException(source, $"tensor '{name}' has {v.Length} elements, expected {n}");
    }

    /// <summary>A batch with <paramref name="slots"/> sequences of up to <paramref name="contextLength"/> tokens each.</summary>
    /// <param name="batchInvariant">Compute every row's results in one fixed order whatever else is in the batch (a
    /// server's same-seed guarantee); otherwise the kernels follow llama.cpp's per-shape choices.</param>
    public DecoderBatch CreateBatch(int slots, int contextLength, KvCacheType cacheType = KvCacheType.F32, bool batchInvariant = false)
        => new(this, slots, contextLength, cacheType, batchInvariant);

    /// <summary>
    /// cos/sin of every rotation angle for positions [0, positions), laid out (position, RopeDim / 2, 2). Angles follow
    /// ggml's rope cache: theta starts at the position and is multiplied by base^(-2/n_dims) in f32 per pair.
    /// </summary>
    internal float[] RopeTable(int positions)
    {
        var t = _rope;
        int half = Config.RopeDim / 2;
        if (t.Length >= positions * half * 2) return t;
        lock (_ropeLock)
        {
            t = _rope;
            if (t.Length >= positions * half * 2) return t;
            int n = Math.Max(positions, Math.Max(64, t.Length / (half * 2) * 2));
            var table = new float[n * half * 2];
            float thetaScale = MathF.Pow(Config.RopeTheta, -2.0f / Config.RopeDim);
            var ff = Config.RopeFreqFactors;
            for (int p = 0; p < n; p++)
            {
                float theta = p;
                for (int i = 0; i < half; i++)
                {
                    float f = ff?[i] ?? 1f;
                    float a = Config.RopeFreqScale * (theta / f);
                    table[(p * half + i) * 2] = MathF.Cos(a);
                    table[(p * half + i) * 2 + 1] = MathF.Sin(a);
                    theta *= thetaScale;
                }
            }
            _rope = table;
            return table;
        }
    }
}
