using Loom.Formats;
using Loom.Models.Inference;
using Loom.Tensors;
using Loom.Tensors.Quant;

namespace Loom.Models.Gguf;

/// <summary>
/// Builds a <see cref="DecoderModel"/> from a GGUF file the way llama.cpp does for the Llama family: hyper-parameters
/// from <c>{arch}.*</c> metadata, tensors by llama.cpp's names, weights left memory-mapped in their file type.
/// Supported architectures: llama (Llama 2/3, Mistral, SmolLM), qwen2, qwen3, phi3, gemma, gemma2. Every tensor of the
/// file must be used, as llama.cpp requires; a missing, mis-shaped or unexpected tensor, or a missing key, is a
/// <see cref="ModelFileException"/> naming the file and the tensor or key.
/// </summary>
public static class GgufDecoder
{
    /// <summary>The <c>general.architecture</c> values Loom runs.</summary>
    public static IReadOnlyList<string> Architectures { get; } = ["llama", "qwen2", "qwen3", "phi3", "gemma", "gemma2"];

    /// <summary>The decoder the file describes; the file must stay open while the model is used.</summary>
    public static DecoderModel Load(GgufFile file)
    {
        string path = file.Path;
        string arch = Str(file, "general.architecture") ?? throw new ModelFileException(path, "metadata key 'general.architecture' is missing");
        if (!Architectures.Contains(arch))
            throw new ModelFileException(path, $"general.architecture '{arch}' is not supported (Loom runs {string.Join(", ", Architectures)})");
        var used = new HashSet<string>(StringComparer.Ordinal);

        int dim = Int(file, $"{arch}.embedding_length");
        int layers = Int(file, $"{arch}.block_count");
        int heads = Int(file, $"{arch}.attention.head_count");
        int kvHeads = Int(file, $"{arch}.attention.head_count_kv", heads);
        if (heads <= 0) throw new ModelFileException(path, $"{arch}.attention.head_count must be positive, got {heads}");
        int headDim = Int(file, $"{arch}.attention.key_length", dim / heads);
        int valueDim = Int(file, $"{arch}.attention.value_length", dim / heads);
        int ropeDim = Int(file, $"{arch}.rope.dimension_count", headDim);
        if (layers <= 0 || layers > 4096) throw new ModelFileException(path, $"{arch}.block_count {layers} is outside 1..4096");

        var embdInfo = Info(file, "token_embd.weight");
        if (embdInfo.Dims.Length != 2) throw new ModelFileException(path, $"tensor 'token_embd.weight' has {embdInfo.Dims.Length} dimensions, expected 2");
        if (embdInfo.Dims[1] > int.MaxValue) throw new ModelFileException(path, "tensor 'token_embd.weight' has too many rows");
        int vocab = (int)embdInfo.Dims[1];

        string scaling = Str(file, $"{arch}.rope.scaling.type") ?? "linear";
        float factor = Float(file, $"{arch}.rope.scaling.factor", 0f);
        if (factor == 0f) factor = Float(file, $"{arch}.rope.scale_linear", 0f);
        if (scaling is not ("linear" or "none"))
            throw new ModelFileException(path, $"{arch}.rope.scaling.type '{scaling}' is not supported (Loom supports none, linear and llama3 rope_freqs)");
        float[]? freqFactors = null;
        if (file.Find("rope_freqs.weight") != null)
        {
            if (arch is not ("llama" or "phi3")) throw new ModelFileException(path, $"tensor 'rope_freqs.weight' is not used by the {arch} graph");
            freqFactors = Vector(file, "rope_freqs.weight", ropeDim / 2, used);
        }

        bool gemma = arch is "gemma" or "gemma2";
        bool gemma2 = arch == "gemma2";
        bool[]? sliding = null;
        int window = 0;
        if (gemma2)
        {
            window = Int(file, "gemma2.attention.sliding_window", 4096);
            sliding = new bool[layers];
            for (int i = 0; i < layers; i++) sliding[i] = i % 2 == 0;   // llama.cpp's pattern 2: even layers slide
        }
        // gemma2 27B (46 layers) scales queries by 1/sqrt(n_embd / n_head); every other model by 1/sqrt(head size).
        float attnScale = gemma2 && layers == 46 ? 1f / MathF.Sqrt(dim / heads) : 1f / MathF.Sqrt(headDim);

        var config = new DecoderConfig
        {
            Architecture = arch,
            VocabSize = vocab, Dim = dim, Layers = layers, Heads = heads, KvHeads = kvHeads, HeadDim = headDim, ValueDim = valueDim,
            FfnDim = Int(file, $"{arch}.feed_forward_length"),
            ContextLength = Int(file, $"{arch}.context_length"),
            NormEps = Float(file, $"{arch}.attention.layer_norm_rms_epsilon", float.NaN),
            RopeTheta = Float(file, $"{arch}.rope.freq_base", 10000f),
            RopeDim = ropeDim,
            RopeStyle = arch == "llama" ? RopeStyle.Normal : RopeStyle.Neox,
            RopeFreqScale = factor == 0f ? 1f : 1f / factor,
            RopeFreqFactors = freqFactors,
            Activation = gemma ? FfnActivation.GeluTanh : FfnActivation.Silu,
            ScaleEmbedding = gemma,
            AttentionScale = attnScale,
            AttentionSoftCap = gemma2 ? Float(file, "gemma2.attn_logit_softcapping", 50f) : 0f,
            FinalSoftCap = gemma2 ? Float(file, "gemma2.final_logit_softcapping", 30f) : 0f,
            SlidingWindow = window,
            SlidingLayers = sliding,
        };
        if (float.IsNaN(config.NormEps)) throw new ModelFileException(path, $"metadata key '{arch}.attention.layer_norm_rms_epsilon' is missing");
        config.Validate(path);
        if (arch != "gemma2" && arch != "gemma" && (headDim != valueDim))
            throw new ModelFileException(path, $"{arch}: key_length {headDim} differs from value_length {valueDim}");
        var c = config;

        var embed = Matrix(file, "token_embd.weight", c.VocabSize, c.Dim, used);
        embed.KeepRowLayout = true;   // as llama.cpp, which leaves get_rows tensors (and so a tied output) unrepacked
        var lw = new DecoderLayerWeights[layers];
        for (int i = 0; i < layers; i++)
        {
            string p = $"blk.{i}.";
            bool fusedQkv = file.Find(p + "attn_qkv.weight") != null;
            float[]? qb = null, kb = null, vb = null;
            if (fusedQkv && file.Find(p + "attn_qkv.bias") != null)
            {
                var b = Vector(file, p + "attn_qkv.bias", c.QueryWidth + c.KeyWidth + c.ValueWidth, used);
                qb = b[..c.QueryWidth];
                kb = b[c.QueryWidth..(c.QueryWidth + c.KeyWidth)];
                vb = b[(c.QueryWidth + c.KeyWidth)..];
            }
            else
            {
                qb = OptVector(file, p + "attn_q.bias", c.QueryWidth, used);
                kb = OptVector(file, p + "attn_k.bias", c.KeyWidth, used);
                vb = OptVector(file, p + "attn_v.bias", c.ValueWidth, used);
            }
            bool fusedUp = arch == "phi3";
            lw[i] = new DecoderLayerWeights
            {
                AttnNorm = Vector(file, p + "attn_norm.weight", c.Dim, used),
                Qkv = fusedQkv ? Matrix(file, p + "attn_qkv.weight", c.QueryWidth + c.KeyWidth + c.ValueWidth, c.Dim, used) : null,
                Q = fusedQkv ? null : Matrix(file, p + "attn_q.weight", c.QueryWidth, c.Dim, used),
                K = fusedQkv ? null : Matrix(file, p + "attn_k.weight", c.KeyWidth, c.Dim, used),
                V = fusedQkv ? null : Matrix(file, p + "attn_v.weight", c.ValueWidth, c.Dim, used),
                QBias = qb, KBias = kb, VBias = vb,
                QNorm = arch == "qwen3" ? Vector(file, p + "attn_q_norm.weight", c.HeadDim, used) : null,
                KNorm = arch == "qwen3" ? Vector(file, p + "attn_k_norm.weight", c.HeadDim, used) : null,
                AttnOutput = Matrix(file, p + "attn_output.weight", c.Dim, c.Heads * c.ValueDim, used),
                PostAttnNorm = gemma2 ? Vector(file, p + "post_attention_norm.weight", c.Dim, used) : null,
                FfnNorm = Vector(file, p + "ffn_norm.weight", c.Dim, used),
                Gate = fusedUp ? null : Matrix(file, p + "ffn_gate.weight", c.FfnDim, c.Dim, used),
                Up = fusedUp ? null : Matrix(file, p + "ffn_up.weight", c.FfnDim, c.Dim, used),
                GateUp = fusedUp ? Matrix(file, p + "ffn_up.weight", 2 * c.FfnDim, c.Dim, used) : null,
                Down = Matrix(file, p + "ffn_down.weight", c.Dim, c.FfnDim, used),
                PostFfnNorm = gemma2 ? Vector(file, p + "post_ffw_norm.weight", c.Dim, used) : null,
            };
        }
        var outputNorm = Vector(file, "output_norm.weight", c.Dim, used);
        // Gemma always ties the output to the embedding; the others use output.weight when the file has it.
        var output = !gemma && file.Find("output.weight") != null ? Matrix(file, "output.weight", c.VocabSize, c.Dim, used) : embed;
        foreach (var t in file.Tensors)
            if (!used.Contains(t.Name)) throw new ModelFileException(path, $"tensor '{t.Name}' is not used by Loom's {arch} graph (unsupported model variant)");
        var weights = new DecoderWeights { TokenEmbedding = embed, Layers = lw, OutputNorm = outputNorm, Output = output, Owner = file };
        return new DecoderModel(config, weights, path);
    }

    private static GgufTensorInfo Info(GgufFile f, string name) =>
        f.Find(name) ?? throw new ModelFileException(f.Path, $"tensor '{name}' is missing");

    /// <summary>A 2-D tensor of shape (rows, cols) (GGUF dims [cols, rows]) as a QuantMatrix over the mapped bytes.</summary>
    private static unsafe QuantMatrix Matrix(GgufFile f, string name, int rows, int cols, HashSet<string> used)
    {
        var t = Info(f, name);
        if (t.Dims.Length != 2 || t.Dims[0] != cols || t.Dims[1] != rows)
            throw new ModelFileException(f.Path, $"tensor '{name}' has GGUF dims [{string.Join(", ", t.Dims)}], expected [{cols}, {rows}]");
        var type = QuantType(f, t);
        used.Add(name);
        fixed (byte* p = f.Bytes(t)) return new QuantMatrix(type, rows, cols, p, f, fileMapped: true);   // the mapping outlives the fixed block
    }

    private static GgmlType QuantType(GgufFile f, GgufTensorInfo t)
    {
        var type = (GgmlType)t.Type.Id;
        try { GgmlTypeLayout.BlockElements(type); }
        catch (ArgumentException) { throw new ModelFileException(f.Path, $"tensor '{t.Name}' has type {t.Type.Name}, which Loom cannot compute with"); }
        return type;
    }

    /// <summary>A 1-D tensor of n elements decoded to f32.</summary>
    private static float[] Vector(GgufFile f, string name, int n, HashSet<string> used)
    {
        var t = Info(f, name);
        if (t.Dims.Length != 1 || t.Dims[0] != n)
            throw new ModelFileException(f.Path, $"tensor '{name}' has GGUF dims [{string.Join(", ", t.Dims)}], expected [{n}]");
        var v = new float[n];
        try { QuantRows.Dequantize(QuantType(f, t), f.Bytes(t), v); }
        catch (NotSupportedException e) { throw new ModelFileException(f.Path, $"tensor '{name}': {e.Message}"); }
        used.Add(name);
        return v;
    }

    private static float[]? OptVector(GgufFile f, string name, int n, HashSet<string> used) =>
        f.Find(name) != null ? Vector(f, name, n, used) : null;

    private static string? Str(GgufFile f, string key)
    {
        var v = f.Get(key);
        if (v == null) return null;
        if (v.Type != GgufValueType.String) throw new ModelFileException(f.Path, $"metadata key '{key}' is {v.Describe()}, expected a string");
        return v.AsString();
    }

    private static int Int(GgufFile f, string key, int? fallback = null)
    {
        var v = f.Get(key);
        if (v == null) return fallback ?? throw new ModelFileException(f.Path, $"metadata key '{key}' is missing");
        long x;
        try { x = v.AsInt64(); }
        catch (Exception e) when (e is InvalidOperationException or OverflowException) { throw new ModelFileException(f.Path, $"metadata key '{key}' is {v.Describe()}, expected an integer"); }
        if (x < 0 || x > int.MaxValue) throw new ModelFileException(f.Path, $"metadata key '{key}' = {x} is out of range");
        return (int)x;
    }

    private static float Float(GgufFile f, string key, float fallback)
    {
        var v = f.Get(key);
        if (v == null) return fallback;
        return v.Value switch
        {
            float x => x,
            double x => (float)x,
            _ when !v.IsArray && v.Type != GgufValueType.String && v.Type != GgufValueType.Bool => v.AsInt64(),
            _ => throw new ModelFileException(f.Path, $"metadata key '{key}' is {v.Describe()}, expected a number"),
        };
    }
}
