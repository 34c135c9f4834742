using System.Runtime.InteropServices;
using Loom.Formats;
using Loom.Models.Llama;
using Loom.Tensors;
using Loom.Tensors.Quant;
using Loom.Text;

namespace Loom.Models.Gguf;

/// <summary>
/// Converts between a Hugging Face / Loom model folder (config.json + model.safetensors + tokenizer.json, Llama layout)
/// and a GGUF file of architecture "llama", as llama.cpp's convert_hf_to_gguf.py does: Hugging Face's rotate-half Q/K
/// rows are permuted to GGUF's interleaved RoPE layout, norms stay F32, matrices take the requested type (or F16 when
/// their rows do not fill whole blocks of it), and the tokenizer becomes <c>tokenizer.ggml.*</c> metadata. Both ways
/// write atomically.
/// </summary>
public static class GgufConvert
{
    /// <summary>Folder to GGUF with matrices in <paramref name="type"/>.</summary>
    public static void FolderToGguf(string dir, string outPath, GgmlType type = GgmlType.F16)
    {
        var (model, _) = ModelFolder.Load(dir);
        var c = model.Config;
        var sd = model.StateDict();
        string cfg = Path.Combine(dir, "tokenizer_config.json");
        // Prompts are never closed with EOS: a post-processor that appends one (Loom's own tokenizers end documents
        // with <|endoftext|> for training) must not make llama.cpp append it to every prompt (its perplexity tool refuses that too).
        var vocab = GgufTokenizer.FromTokenizerJson(Path.Combine(dir, ModelFolder.TokenizerFile), File.Exists(cfg) ? cfg : null) with { AddEos = false };
        var w = new GgufWriter();
        w.Add("general.architecture", GgufValue.String("llama"));
        w.Add("general.name", GgufValue.String(Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir)))));
        w.Add("llama.vocab_size", GgufValue.UInt32((uint)c.VocabSize));
        w.Add("llama.context_length", GgufValue.UInt32((uint)c.MaxSeqLen));
        w.Add("llama.embedding_length", GgufValue.UInt32((uint)c.Dim));
        w.Add("llama.block_count", GgufValue.UInt32((uint)c.Layers));
        w.Add("llama.feed_forward_length", GgufValue.UInt32((uint)c.FfnDim));
        w.Add("llama.attention.head_count", GgufValue.UInt32((uint)c.Heads));
        w.Add("llama.attention.head_count_kv", GgufValue.UInt32((uint)c.KvHeads));
        w.Add("llama.attention.layer_norm_rms_epsilon", GgufValue.Float32(c.NormEps));
        w.Add("llama.rope.freq_base", GgufValue.Float32(c.RopeTheta));
        w.Add("llama.rope.dimension_count", GgufValue.UInt32((uint)c.HeadDim));
        w.Add("general.file_type", GgufValue.UInt32(type switch { GgmlType.F32 => 0u, GgmlType.F16 => 1u, GgmlType.Q8_0 => 7u, GgmlType.BF16 => 32u, GgmlType.Q4_0 => 2u, _ => 0u }));
        GgufTokenizer.WriteMetadata(w, vocab);
        if (vocab.Count > c.VocabSize) throw new ModelFileException(dir, $"tokenizer.json has {vocab.Count} tokens but vocab_size is {c.VocabSize}");

        float[] Get(string name) => sd[name].ToArray();
        AddMatrix(w, "token_embd.weight", Get("model.embed_tokens.weight"), c.VocabSize, c.Dim, type);
        for (int i = 0; i < c.Layers; i++)
        {
            string hf = $"model.layers.{i}.", g = $"blk.{i}.";
            AddVector(w, g + "attn_norm.weight", Get(hf + "input_layernorm.weight"));
            AddMatrix(w, g + "attn_q.weight", PermuteForGguf(Get(hf + "self_attn.q_proj.weight"), c.Heads, c.HeadDim, c.Dim), c.Heads * c.HeadDim, c.Dim, type);
            AddMatrix(w, g + "attn_k.weight", PermuteForGguf(Get(hf + "self_attn.k_proj.weight"), c.KvHeads, c.HeadDim, c.Dim), c.KvHeads * c.HeadDim, c.Dim, type);
            AddMatrix(w, g + "attn_v.weight", Get(hf + "self_attn.v_proj.weight"), c.KvHeads * c.HeadDim, c.Dim, type);
            AddMatrix(w, g + "attn_output.weight", Get(hf + "self_attn.o_proj.weight"), c.Dim, c.Heads * c.HeadDim, type);
            AddVector(w, g + "ffn_norm.weight", Get(hf + "post_attention_layernorm.weight"));
            AddMatrix(w, g + "ffn_gate.weight", Get(hf + "mlp.gate_proj.weight"), c.FfnDim, c.Dim, type);
            AddMatrix(w, g + "ffn_up.weight", Get(hf + "mlp.up_proj.weight"), c.FfnDim, c.Dim, type);
            AddMatrix(w, g + "ffn_down.weight", Get(hf + "mlp.down_proj.weight"), c.Dim, c.FfnDim, type);
        }
        AddVector(w, "output_norm.weight", Get("model.norm.weight"));
        if (sd.ContainsKey("lm_head.weight")) AddMatrix(w, "output.weight", Get("lm_head.weight"), c.VocabSize, c.Dim, type);
        w.Save(outPath);
    }

    /// <summary>
    /// GGUF (architecture llama, byte-level BPE tokenizer) to a folder, weights dequantized to F32 (or F16), Q/K rows
    /// permuted back to Hugging Face's layout.
    /// </summary>
    public static void GgufToFolder(string ggufPath, string outDir, bool f16 = false)
    {
        using var file = GgufFile.Open(ggufPath);
        var decoder = GgufDecoder.Load(file);
        var c = decoder.Config;
        if (c.Architecture != "llama") throw new ModelFileException(ggufPath, $"only llama-architecture files convert to a Llama model folder, not {c.Architecture}");
        if (c.RopeFreqFactors != null || c.RopeFreqScale != 1f) throw new ModelFileException(ggufPath, "rope scaling (rope_freqs or rope.scaling.factor) has no place in Loom's config.json");
        if (c.HeadDim * c.Heads != c.Dim || c.RopeDim != c.HeadDim) throw new ModelFileException(ggufPath, "head size times heads must equal embedding_length for a Loom model folder");
        var vocab = GgufTokenizer.ReadVocab(file);
        var tokenizer = ToBpeTokenizer(vocab, ggufPath);
        var w = decoder.Weights;
        var config = new LlamaConfig
        {
            VocabSize = c.VocabSize, Dim = c.Dim, Layers = c.Layers, Heads = c.Heads, KvHeads = c.KvHeads, FfnDim = c.FfnDim,
            MaxSeqLen = c.ContextLength, RopeTheta = c.RopeTheta, NormEps = c.NormEps, TieEmbeddings = ReferenceEquals(w.Output, w.TokenEmbedding),
        };
        var dtype = f16 ? DType.F16 : DType.F32;
        var tensors = new Dictionary<string, Tensor>();
        try
        {
            Tensor T(float[] data, params int[] shape)
            {
                using var t = Tensor.FromArray(data, shape);
                return f16 ? t.ToDType(dtype) : t.Contiguous();
            }
            Tensor M(QuantMatrix m) => T(Dense(m), m.Rows, m.Cols);
            tensors["model.embed_tokens.weight"] = M(w.TokenEmbedding);
            for (int i = 0; i < c.Layers; i++)
            {
                var l = w.Layers[i];
                string hf = $"model.layers.{i}.";
                tensors[hf + "input_layernorm.weight"] = T(l.AttnNorm, c.Dim);
                tensors[hf + "self_attn.q_proj.weight"] = T(PermuteFromGguf(Dense(l.Q!), c.Heads, c.HeadDim, c.Dim), c.Heads * c.HeadDim, c.Dim);
                tensors[hf + "self_attn.k_proj.weight"] = T(PermuteFromGguf(Dense(l.K!), c.KvHeads, c.HeadDim, c.Dim), c.KvHeads * c.HeadDim, c.Dim);
                tensors[hf + "self_attn.v_proj.weight"] = M(l.V!);
                tensors[hf + "self_attn.o_proj.weight"] = M(l.AttnOutput);
                tensors[hf + "post_attention_layernorm.weight"] = T(l.FfnNorm, c.Dim);
                tensors[hf + "mlp.gate_proj.weight"] = M(l.Gate!);
                tensors[hf + "mlp.up_proj.weight"] = M(l.Up!);
                tensors[hf + "mlp.down_proj.weight"] = M(l.Down);
            }
            tensors["model.norm.weight"] = T(w.OutputNorm, c.Dim);
            if (!config.TieEmbeddings) tensors["lm_head.weight"] = M(w.Output);
            Directory.CreateDirectory(outDir);
            AtomicFile.Write(Path.Combine(outDir, ModelFolder.ConfigFile), s => s.Write(System.Text.Encoding.UTF8.GetBytes(config.ToJson())));
            SafeTensorsFile.Save(Path.Combine(outDir, ModelFolder.WeightsFile), tensors, new Dictionary<string, string> { ["format"] = "pt", ["source"] = Path.GetFileName(ggufPath) });
            TokenizerJson.Save(tokenizer, Path.Combine(outDir, ModelFolder.TokenizerFile));
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    /// <summary>A byte-level BPE GGUF vocabulary as Loom's <see cref="BpeTokenizer"/> (for tokenizer.json).</summary>
    private static BpeTokenizer ToBpeTokenizer(GgufVocab v, string path)
    {
        if (v.Model != "gpt2") throw new ModelFileException(path, $"tokenizer.ggml.model '{v.Model}' cannot be written as a byte-level BPE tokenizer.json");
        var kind = v.Pre switch
        {
            null or "default" or "gpt-2" or "gpt2" => PreTokenizerKind.Gpt2,
            "llama3" or "llama-v3" or "llama-bpe" => PreTokenizerKind.Llama3,
            _ => throw new ModelFileException(path, $"tokenizer.ggml.pre '{v.Pre}' has no Loom tokenizer.json equivalent (gpt-2 or llama-bpe)"),
        };
        var vocab = new List<byte[]>();
        var added = new List<AddedToken>();
        var ids = new Dictionary<string, int>(v.Count, StringComparer.Ordinal);
        for (int i = 0; i < v.Count; i++)
        {
            ids.TryAdd(v.Tokens[i], i);
            var type = v.TypeOf(i);
            if (type is GgufTokenType.Control or GgufTokenType.UserDefined)
            {
                added.Add(new AddedToken(i, v.Tokens[i], type == GgufTokenType.Control));
                if (i < v.Count) vocab.Add([]);
                continue;
            }
            vocab.Add(ByteLevel.TryDecode(v.Tokens[i]) ?? throw new ModelFileException(path, $"tokenizer.ggml.tokens[{i}] is not a byte-level token"));
        }
        // Added tokens at the end of the id range are not part of the model vocab.
        int modelSize = v.Count;
        while (modelSize > 0 && added.Any(a => a.Id == modelSize - 1)) modelSize--;
        var merges = new List<(int, int)>(v.Merges.Length);
        foreach (var m in v.Merges)
        {
            int sp = m.IndexOf(' ', 1);
            merges.Add((ids[m[..sp]], ids[m[(sp + 1)..]]));
        }
        int? bos = v.AddBos == true ? v.BosId : null;
        return new BpeTokenizer(vocab.Take(modelSize).ToList(), merges, added, kind, ignoreMerges: kind == PreTokenizerKind.Llama3, bosId: bos, eosId: v.EosId);
    }

    private static float[] Dense(QuantMatrix m)
    {
        var a = new float[(long)m.Rows * m.Cols];
        for (int r = 0; r < m.Rows; r++) m.DequantizeRow(r, a.AsSpan(r * m.Cols, m.Cols));
        return a;
    }

    /// <summary>
    /// convert_hf_to_gguf.py's permute: within each head, rows (2, D/2) become (D/2, 2), turning rotate-half pairs
    /// (i, i + D/2) into adjacent pairs (2i, 2i + 1).
    /// </summary>
    internal static float[] PermuteForGguf(float[] w, int heads, int headDim, int cols)
    {
        var y = new float[w.Length];
        int half = headDim / 2;
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < half; i++)
                for (int j = 0; j < 2; j++)
                    w.AsSpan((h * headDim + j * half + i) * cols, cols).CopyTo(y.AsSpan((h * headDim + 2 * i + j) * cols, cols));
        return y;
    }

    internal static float[] PermuteFromGguf(float[] w, int heads, int headDim, int cols)
    {
        var y = new float[w.Length];
        int half = headDim / 2;
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < half; i++)
                for (int j = 0; j < 2; j++)
                    w.AsSpan((h * headDim + 2 * i + j) * cols, cols).CopyTo(y.AsSpan((h * headDim + j * half + i) * cols, cols));
        return y;
    }

    /// <summary>Matrix rows quantized to <paramref name="type"/>, or F16 when a row is not a whole number of its blocks.</summary>
    private static void AddMatrix(GgufWriter w, string name, float[] data, int rows, int cols, GgmlType type)
    {
        if (cols % GgmlTypeLayout.BlockElements(type) != 0) type = GgmlType.F16;
        long rowBytes = GgmlTypeLayout.RowBytes(type, cols);
        var bytes = new byte[rows * rowBytes];
        for (int r = 0; r < rows; r++)
            QuantRows.Quantize(type, data.AsSpan(r * cols, cols), bytes.AsSpan((int)(r * rowBytes), (int)rowBytes));
        w.AddTensor(name, [cols, rows], (uint)type, bytes);
    }

    private static void AddVector(GgufWriter w, string name, float[] v) =>
        w.AddTensor(name, [v.Length], GgmlTypes.F32, MemoryMarshal.AsBytes(v.AsSpan()).ToArray());
}
