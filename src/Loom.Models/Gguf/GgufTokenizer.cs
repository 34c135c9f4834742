using System.IO.Compression;
using Loom.Formats;
using Loom.Text;

namespace Loom.Models.Gguf;

/// <summary>Reads and writes the tokenizer a GGUF file describes in its <c>tokenizer.ggml.*</c> metadata.</summary>
public static class GgufTokenizer
{
    /// <summary>The file's tokenizer, encoding as llama.cpp does; a <see cref="ModelFileException"/> names the field when it is missing, inconsistent or unsupported.</summary>
    public static LlamaTokenizer Load(GgufFile file)
    {
        var vocab = ReadVocab(file);
        try { return new LlamaTokenizer(vocab); }
        catch (TokenizerFormatException e) { throw new ModelFileException(file.Path, e.Message); }
        catch (NotSupportedException e) { throw new ModelFileException(file.Path, "tokenizer.ggml.pre: " + e.Message); }
    }

    /// <summary>The <c>tokenizer.ggml.*</c> metadata as a <see cref="GgufVocab"/>, with array lengths and id ranges checked.</summary>
    public static GgufVocab ReadVocab(GgufFile file)
    {
        string model = ReadString(file, "tokenizer.ggml.model") ?? throw new ModelFileException(file.Path, "metadata has no tokenizer.ggml.model");
        if (model is not ("gpt2" or "llama" or "gemma4")) throw new ModelFileException(file.Path, $"tokenizer.ggml.model '{model}' is not supported (expected gpt2, llama or gemma4)");
        var tokens = ReadArray<string>(file, "tokenizer.ggml.tokens") ?? throw new ModelFileException(file.Path, "metadata has no tokenizer.ggml.tokens");
        if (tokens.Length == 0) throw new ModelFileException(file.Path, "tokenizer.ggml.tokens is empty");
        int n = tokens.Length;
        var scores = ReadArray<float>(file, "tokenizer.ggml.scores");
        if (scores != null && scores.Length != n) throw new ModelFileException(file.Path, $"tokenizer.ggml.scores has {scores.Length} entries for {n} tokens");
        var types = ReadArray<int>(file, "tokenizer.ggml.token_type");
        if (types != null && types.Length != n) throw new ModelFileException(file.Path, $"tokenizer.ggml.token_type has {types.Length} entries for {n} tokens");
        if (types != null)
            for (int i = 0; i < n; i++)
                if (types[i] is < 0 or > 6) throw new ModelFileException(file.Path, $"tokenizer.ggml.token_type[{i}] is {types[i]} (expected 0..6)");
        var merges = ReadArray<string>(file, "tokenizer.ggml.merges") ?? [];
        if (model is "gpt2" or "gemma4")
        {
            if (merges.Length == 0) throw new ModelFileException(file.Path, "tokenizer.ggml.merges is missing (a gpt2 tokenizer needs merges)");
            var known = new HashSet<string>(tokens, StringComparer.Ordinal);
            for (int r = 0; r < merges.Length; r++)
            {
                string m = merges[r];
                int sp = m.Length > 1 ? m.IndexOf(' ', 1) : -1;
                if (sp < 0 || !known.Contains(m[..sp]) || !known.Contains(m[(sp + 1)..]))
                    throw new ModelFileException(file.Path, $"tokenizer.ggml.merges[{r}] '{m}' does not name two tokens");
            }
        }
        return new GgufVocab
        {
            Model = model,
            Pre = ReadString(file, "tokenizer.ggml.pre"),
            Tokens = tokens,
            Scores = scores,
            TokenTypes = types?.Select(t => (GgufTokenType)t).ToArray(),
            Merges = merges,
            BosId = ReadId(file, "tokenizer.ggml.bos_token_id", n),
            EosId = ReadId(file, "tokenizer.ggml.eos_token_id", n),
            EotId = ReadId(file, "tokenizer.ggml.eot_token_id", n),
            EomId = ReadId(file, "tokenizer.ggml.eom_token_id", n),
            UnkId = ReadId(file, "tokenizer.ggml.unknown_token_id", n),
            SepId = ReadId(file, "tokenizer.ggml.seperator_token_id", n),
            PadId = ReadId(file, "tokenizer.ggml.padding_token_id", n),
            AddBos = ReadBool(file, "tokenizer.ggml.add_bos_token"),
            AddEos = ReadBool(file, "tokenizer.ggml.add_eos_token"),
            AddSpacePrefix = ReadBool(file, "tokenizer.ggml.add_space_prefix"),
            ChatTemplate = ReadString(file, "tokenizer.chat_template"),
            ModelName = ReadString(file, "general.name"),
            Architecture = ReadString(file, "general.architecture"),
        };
    }

    /// <summary>Adds the vocabulary's <c>tokenizer.*</c> keys to a GGUF being written (the keys convert_hf_to_gguf.py writes).</summary>
    public static void WriteMetadata(GgufWriter writer, GgufVocab vocab)
    {
        writer.Add("tokenizer.ggml.model", GgufValue.String(vocab.Model));
        if (vocab.Pre != null) writer.Add("tokenizer.ggml.pre", GgufValue.String(vocab.Pre));
        writer.Add("tokenizer.ggml.tokens", GgufValue.Array(vocab.Tokens));
        if (vocab.Scores != null) writer.Add("tokenizer.ggml.scores", GgufValue.Array(vocab.Scores));
        if (vocab.TokenTypes != null) writer.Add("tokenizer.ggml.token_type", GgufValue.Array(vocab.TokenTypes.Select(t => (int)t).ToArray()));
        if (vocab.Merges.Length > 0) writer.Add("tokenizer.ggml.merges", GgufValue.Array(vocab.Merges));
        void Id(string key, int? id) { if (id is int v) writer.Add(key, GgufValue.UInt32((uint)v)); }
        Id("tokenizer.ggml.bos_token_id", vocab.BosId);
        Id("tokenizer.ggml.eos_token_id", vocab.EosId);
        Id("tokenizer.ggml.eot_token_id", vocab.EotId);
        Id("tokenizer.ggml.eom_token_id", vocab.EomId);
        Id("tokenizer.ggml.unknown_token_id", vocab.UnkId);
        Id("tokenizer.ggml.seperator_token_id", vocab.SepId);
        Id("tokenizer.ggml.padding_token_id", vocab.PadId);
        void Flag(string key, bool? v) { if (v is bool b) writer.Add(key, GgufValue.Bool(b)); }
        Flag("tokenizer.ggml.add_bos_token", vocab.AddBos);
        Flag("tokenizer.ggml.add_eos_token", vocab.AddEos);
        Flag("tokenizer.ggml.add_space_prefix", vocab.AddSpacePrefix);
        if (vocab.ChatTemplate != null) writer.Add("tokenizer.chat_template", GgufValue.String(vocab.ChatTemplate));
    }

    /// <summary>
    /// Writes a vocab-only GGUF (no tensors; a token "llama" architecture header so llama.cpp can load it with
    /// <c>vocab_only</c>), the form llama.cpp's own ggml-vocab-*.gguf test files take.
    /// </summary>
    public static void WriteVocabOnly(string path, GgufVocab vocab, string name)
    {
        var w = new GgufWriter();
        w.Add("general.architecture", GgufValue.String("llama"));
        w.Add("general.name", GgufValue.String(name));
        w.Add("llama.block_count", GgufValue.UInt32(1));
        w.Add("llama.context_length", GgufValue.UInt32(4096));
        w.Add("llama.embedding_length", GgufValue.UInt32(64));
        w.Add("llama.feed_forward_length", GgufValue.UInt32(128));
        w.Add("llama.attention.head_count", GgufValue.UInt32(1));
        w.Add("llama.attention.head_count_kv", GgufValue.UInt32(1));
        w.Add("llama.attention.layer_norm_rms_epsilon", GgufValue.Float32(1e-5f));
        WriteMetadata(w, vocab);
        w.Save(path);
    }

    /// <summary>
    /// Reads a Hugging Face tokenizer.json (or .json.gz) and, when given, tokenizer_config.json, converting as
    /// convert_hf_to_gguf.py does; <paramref name="pre"/> overrides the detected pre-tokenizer name.
    /// </summary>
    public static GgufVocab FromTokenizerJson(string tokenizerPath, string? configPath = null, string? pre = null)
    {
        string json = ReadText(tokenizerPath);
        string? config = configPath != null ? ReadText(configPath) : null;
        try { return GgufVocabJson.FromTokenizerJson(json, config, pre); }
        catch (TokenizerFormatException e) { throw new ModelFileException(tokenizerPath, e.Message); }
        catch (System.Text.Json.JsonException e) { throw new ModelFileException(tokenizerPath, "malformed JSON: " + e.Message); }
    }

    /// <summary>
    /// Writes the vocabulary as a Hugging Face tokenizer.json (and, when <paramref name="configPath"/> is given, a
    /// tokenizer_config.json with the special tokens and chat template), atomically; for GGUF -> Hugging Face conversion.
    /// </summary>
    public static void ToTokenizerJson(GgufVocab vocab, string path, string? configPath = null)
    {
        try
        {
            AtomicFile.Write(path, s => GgufVocabJson.WriteTokenizerJson(vocab, s));
            if (configPath != null) AtomicFile.Write(configPath, s => GgufVocabJson.WriteTokenizerConfig(vocab, s));
        }
        catch (TokenizerFormatException e) { throw new ModelFileException(path, e.Message); }
    }

    private static string ReadText(string path)
    {
        if (!File.Exists(path)) throw new ModelFileException(path, "file not found");
        using var stream = File.OpenRead(path);
        using Stream input = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(stream, CompressionMode.Decompress) : stream;
        using var reader = new StreamReader(input);
        return reader.ReadToEnd();
    }

    private static string? ReadString(GgufFile file, string key)
    {
        var v = file.Get(key);
        if (v == null) return null;
        return v.Type == GgufValueType.String ? v.AsString() : throw new ModelFileException(file.Path, $"{key} is {v.Describe()}, expected String");
    }

    private static bool? ReadBool(GgufFile file, string key)
    {
        var v = file.Get(key);
        if (v == null) return null;
        return v.Type == GgufValueType.Bool ? (bool)v.Value : throw new ModelFileException(file.Path, $"{key} is {v.Describe()}, expected Bool");
    }

    private static T[]? ReadArray<T>(GgufFile file, string key)
    {
        var v = file.Get(key);
        if (v == null) return null;
        if (!v.IsArray || v.Value is not T[] a)
            throw new ModelFileException(file.Path, $"{key} is {v.Describe()}, expected an array of {typeof(T).Name}");
        return a;
    }

    private static int? ReadId(GgufFile file, string key, int vocabSize)
    {
        var v = file.Get(key);
        if (v == null) return null;
        long id;
        try { id = v.AsInt64(); }
        catch (Exception e) when (e is InvalidOperationException or OverflowException) { throw new ModelFileException(file.Path, $"{key} is {v.Describe()} {v}, expected an id"); }
        if (id < 0 || id >= vocabSize) throw new ModelFileException(file.Path, $"{key} = {id} is outside the vocab of {vocabSize} tokens");
        return (int)id;
    }
}
