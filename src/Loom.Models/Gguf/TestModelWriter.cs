using Loom.Formats;
using Loom.Tensors;
using Loom.Tensors.Quant;
using Loom.Text;

namespace Loom.Models.Gguf;

/// <summary>Sizes of the random test models: "tiny" for tests and oracles, "llama-1b" (Llama 3.2 1B's shape) for benchmarks.</summary>
public sealed record TestModelShape(string Name, int Dim, int Layers, int Heads, int KvHeads, int HeadDim, int FfnDim, int ContextLength)
{
    /// <summary>dim 256, 2 layers, 4 heads of 64, 2 KV heads, FFN 512: every row a multiple of 256 so K-quants apply.</summary>
    public static TestModelShape Tiny { get; } = new("tiny", 256, 2, 4, 2, 64, 512, 2048);

    /// <summary>16 layers, dim 2048, 32 heads of 64, 8 KV heads, FFN 8192.</summary>
    public static TestModelShape Llama1B { get; } = new("llama-1b", 2048, 16, 32, 8, 64, 8192, 4096);

    public static TestModelShape Parse(string name) => name switch
    {
        "tiny" => Tiny,
        "llama-1b" => Llama1B,
        _ => throw new ArgumentException($"unknown test model shape '{name}' (tiny or llama-1b)"),
    };
}

/// <summary>
/// Writes GGUF files of Llama-family models with random weights from Loom's seeded <see cref="Rng"/>, for oracles and
/// benchmarks: the metadata llama.cpp expects for the architecture, a real tokenizer, and matrices in any ggml type
/// (quantized through <see cref="QuantRows.Quantize"/>; norms, biases and rope factors stay F32 as llama.cpp's quantizer
/// leaves them). Scales keep activations near unit size and logits spread (std about 2), so greedy decoding is decisive.
/// </summary>
public static class TestModelWriter
{
    /// <summary>Writes the model atomically; the same arguments give the same bytes.</summary>
    public static void Write(string path, string arch, GgmlType type, ulong seed, GgufVocab vocabulary, TestModelShape shape)
    {
        if (!GgufDecoder.Architectures.Contains(arch))
            throw new ArgumentException($"unknown architecture '{arch}' (one of {string.Join(", ", GgufDecoder.Architectures)})");
        var s = shape;
        int vocab = vocabulary.Tokens.Length;
        var rng = new Rng(seed);
        var w = new GgufWriter();
        w.Add("general.architecture", GgufValue.String(arch));
        w.Add("general.name", GgufValue.String($"loom-test-{s.Name}-{type}-seed{seed}"));   // no arch in the name: llama.cpp special-cases names containing "phi3"
        w.Add("general.basename", GgufValue.String("loom-test"));
        w.Add($"{arch}.context_length", GgufValue.UInt32((uint)s.ContextLength));
        w.Add($"{arch}.embedding_length", GgufValue.UInt32((uint)s.Dim));
        w.Add($"{arch}.block_count", GgufValue.UInt32((uint)s.Layers));
        w.Add($"{arch}.feed_forward_length", GgufValue.UInt32((uint)s.FfnDim));
        w.Add($"{arch}.attention.head_count", GgufValue.UInt32((uint)s.Heads));
        w.Add($"{arch}.attention.head_count_kv", GgufValue.UInt32((uint)s.KvHeads));
        w.Add($"{arch}.attention.layer_norm_rms_epsilon", GgufValue.Float32(arch is "gemma" or "gemma2" ? 1e-6f : 1e-5f));
        w.Add($"{arch}.rope.freq_base", GgufValue.Float32(arch == "llama" ? 500000f : 10000f));
        w.Add($"{arch}.rope.dimension_count", GgufValue.UInt32((uint)s.HeadDim));
        if (s.HeadDim * s.Heads != s.Dim || arch is "gemma" or "gemma2")
        {
            w.Add($"{arch}.attention.key_length", GgufValue.UInt32((uint)s.HeadDim));
            w.Add($"{arch}.attention.value_length", GgufValue.UInt32((uint)s.HeadDim));
        }
        if (arch == "gemma2")
        {
            w.Add("gemma2.attention.sliding_window", GgufValue.UInt32(8));
            w.Add("gemma2.attn_logit_softcapping", GgufValue.Float32(5f));
            w.Add("gemma2.final_logit_softcapping", GgufValue.Float32(3f));
        }
        w.Add("general.file_type", GgufValue.UInt32(FileType(type)));
        // Prompts are not closed with EOS (a tokenizer.json post-processor that appends one is for training documents).
        GgufTokenizer.WriteMetadata(w, vocabulary with { AddEos = false });

        int q = s.Heads * s.HeadDim, kv = s.KvHeads * s.HeadDim;
        float inStd = 1f / MathF.Sqrt(s.Dim);
        bool tiedAlways = arch is "gemma" or "gemma2";
        Matrix(w, "token_embd.weight", vocab, s.Dim, 2f * inStd, type, rng);
        if (arch == "llama") w.AddTensor("rope_freqs.weight", [s.HeadDim / 2], GgmlTypes.F32, F32Bytes(Llama3RopeFactors(s.HeadDim, 500000f)));
        for (int i = 0; i < s.Layers; i++)
        {
            string p = $"blk.{i}.";
            Norm(w, p + "attn_norm.weight", s.Dim, rng);
            if (arch == "phi3") Matrix(w, p + "attn_qkv.weight", q + 2 * kv, s.Dim, inStd, type, rng);
            else
            {
                Matrix(w, p + "attn_q.weight", q, s.Dim, inStd, type, rng);
                Matrix(w, p + "attn_k.weight", kv, s.Dim, inStd, type, rng);
                Matrix(w, p + "attn_v.weight", kv, s.Dim, inStd, type, rng);
            }
            if (arch == "qwen2")
            {
                Bias(w, p + "attn_q.bias", q, rng);
                Bias(w, p + "attn_k.bias", kv, rng);
                Bias(w, p + "attn_v.bias", kv, rng);
            }
            if (arch == "qwen3")
            {
                Norm(w, p + "attn_q_norm.weight", s.HeadDim, rng);
                Norm(w, p + "attn_k_norm.weight", s.HeadDim, rng);
            }
            Matrix(w, p + "attn_output.weight", s.Dim, q, 1f / MathF.Sqrt(q), type, rng);
            if (arch == "gemma2") Norm(w, p + "post_attention_norm.weight", s.Dim, rng);
            Norm(w, p + "ffn_norm.weight", s.Dim, rng);
            if (arch == "phi3") Matrix(w, p + "ffn_up.weight", 2 * s.FfnDim, s.Dim, inStd, type, rng);
            else
            {
                Matrix(w, p + "ffn_gate.weight", s.FfnDim, s.Dim, inStd, type, rng);
                Matrix(w, p + "ffn_up.weight", s.FfnDim, s.Dim, inStd, type, rng);
            }
            Matrix(w, p + "ffn_down.weight", s.Dim, s.FfnDim, 1f / MathF.Sqrt(s.FfnDim), type, rng);
            if (arch == "gemma2") Norm(w, p + "post_ffw_norm.weight", s.Dim, rng);
        }
        Norm(w, "output_norm.weight", s.Dim, rng);
        if (!tiedAlways && arch != "qwen3") Matrix(w, "output.weight", vocab, s.Dim, 2f * inStd, type, rng);   // qwen3 tests the tied path
        w.Save(path);
    }

    /// <summary>llama.cpp's general.file_type (LLAMA_FTYPE) for a file whose matrices are all of one type.</summary>
    private static uint FileType(GgmlType t) => t switch
    {
        GgmlType.F32 => 0, GgmlType.F16 => 1, GgmlType.Q4_0 => 2, GgmlType.Q4_1 => 3, GgmlType.Q8_0 => 7, GgmlType.Q5_0 => 8,
        GgmlType.Q5_1 => 9, GgmlType.Q2_K => 10, GgmlType.Q3_K => 12, GgmlType.Q4_K => 15, GgmlType.Q5_K => 17, GgmlType.Q6_K => 18,
        GgmlType.BF16 => 32,
        _ => throw new ArgumentException($"no test models of type {t}"),
    };

    /// <summary>Llama 3.1's rope_freqs (factor 8, low 1, high 4, original context 8192), as the GGUF converter computes them.</summary>
    public static float[] Llama3RopeFactors(int headDim, float theta)
    {
        const double factor = 8, low = 1, high = 4, oldContext = 8192;
        double lowWavelen = oldContext / low, highWavelen = oldContext / high;
        var f = new float[headDim / 2];
        for (int i = 0; i < f.Length; i++)
        {
            double freq = 1.0 / Math.Pow(theta, 2.0 * i / headDim);
            double wavelen = 2 * Math.PI / freq;
            if (wavelen < highWavelen) f[i] = 1f;
            else if (wavelen > lowWavelen) f[i] = (float)factor;
            else
            {
                double smooth = (oldContext / wavelen - low) / (high - low);
                f[i] = (float)(1 / ((1 - smooth) / factor + smooth));
            }
        }
        return f;
    }

    private static void Matrix(GgufWriter w, string name, int rows, int cols, float std, GgmlType type, Rng rng)
    {
        long rowBytes = GgmlTypeLayout.RowBytes(type, cols);
        var data = new byte[rows * rowBytes];
        var row = new float[cols];
        for (int r = 0; r < rows; r++)
        {
            rng.FillNormal(row, 0f, std);
            QuantRows.Quantize(type, row, data.AsSpan((int)(r * rowBytes), (int)rowBytes));
        }
        w.AddTensor(name, [cols, rows], (uint)type, data);
    }

    /// <summary>Norm weights near 1 (Gemma files store 1 + w, so this is the stored value for every architecture).</summary>
    private static void Norm(GgufWriter w, string name, int n, Rng rng)
    {
        var v = new float[n];
        rng.FillNormal(v, 1f, 0.1f);
        w.AddTensor(name, [n], GgmlTypes.F32, F32Bytes(v));
    }

    private static void Bias(GgufWriter w, string name, int n, Rng rng)
    {
        var v = new float[n];
        rng.FillNormal(v, 0f, 0.1f);
        w.AddTensor(name, [n], GgmlTypes.F32, F32Bytes(v));
    }

    private static byte[] F32Bytes(float[] v) => System.Runtime.InteropServices.MemoryMarshal.AsBytes(v.AsSpan()).ToArray();
}
