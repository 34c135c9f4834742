using System.Text.Json;
using System.Text.Json.Serialization;

namespace Loom.Models.Llama;

/// <summary>
/// Shape of a Llama-family decoder (RMSNorm, RoPE, SwiGLU, grouped-query attention), read from a JSON file
/// whose field names follow Hugging Face's config.json so that exported models need no renaming.
/// </summary>
public sealed record LlamaConfig
{
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; }
    [JsonPropertyName("hidden_size")] public int Dim { get; init; }
    [JsonPropertyName("num_hidden_layers")] public int Layers { get; init; }
    [JsonPropertyName("num_attention_heads")] public int Heads { get; init; }
    [JsonPropertyName("num_key_value_heads")] public int KvHeads { get; init; }
    [JsonPropertyName("intermediate_size")] public int FfnDim { get; init; }
    [JsonPropertyName("max_position_embeddings")] public int MaxSeqLen { get; init; }
    [JsonPropertyName("rope_theta")] public float RopeTheta { get; init; } = 10000f;
    [JsonPropertyName("rms_norm_eps")] public float NormEps { get; init; } = 1e-5f;
    [JsonPropertyName("tie_word_embeddings")] public bool TieEmbeddings { get; init; }

    public int HeadDim => Dim / Heads;

    private static readonly string[] Required =
        ["vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "intermediate_size", "max_position_embeddings"];

    /// <summary>Checks every field; the message names the field and the file.</summary>
    public void Validate(string source = "config")
    {
        void Positive(int v, string name)
        {
            if (v <= 0) throw new LlamaConfigException(source, name, $"must be a positive integer, got {v}");
        }
        Positive(VocabSize, "vocab_size");
        Positive(Dim, "hidden_size");
        Positive(Layers, "num_hidden_layers");
        Positive(Heads, "num_attention_heads");
        Positive(KvHeads, "num_key_value_heads");
        Positive(FfnDim, "intermediate_size");
        Positive(MaxSeqLen, "max_position_embeddings");
        if (Dim % Heads != 0) throw new LlamaConfigException(source, "num_attention_heads", $"hidden_size {Dim} is not divisible by {Heads} heads");
        if (Heads % KvHeads != 0) throw new LlamaConfigException(source, "num_key_value_heads", $"{Heads} query heads are not a multiple of {KvHeads} KV heads");
        if (HeadDim % 2 != 0) throw new LlamaConfigException(source, "hidden_size", $"head dimension {HeadDim} must be even for RoPE");
        if (!(RopeTheta > 0)) throw new LlamaConfigException(source, "rope_theta", "must be positive");
        if (!(NormEps > 0)) throw new LlamaConfigException(source, "rms_norm_eps", "must be positive");
    }

    public static LlamaConfig FromJson(string json, string source = "config")
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json); }
        catch (JsonException e) { throw new LlamaConfigException(source, "(json)", e.Message); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new LlamaConfigException(source, "(json)", "not a JSON object");
            foreach (var r in Required)
                if (!doc.RootElement.TryGetProperty(r, out _)) throw new LlamaConfigException(source, r, "is missing");
        }
        try
        {
            var c = JsonSerializer.Deserialize<LlamaConfig>(json) ?? throw new LlamaConfigException(source, "(json)", "empty");
            c.Validate(source);
            return c;
        }
        catch (JsonException e) { throw new LlamaConfigException(source, e.Path ?? "(json)", e.Message); }
    }

    public static LlamaConfig Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: config file not found", path);
        return FromJson(File.ReadAllText(path), path);
    }

    public string ToJson() => JsonSerializer.Serialize(this, new JsonSerializerOptions { WriteIndented = true });
}

/// <summary>A model config is missing a field or has an invalid value; names the source and the field.</summary>
public sealed class LlamaConfigException(string source, string field, string problem)
    : ArgumentException($"{source}: field '{field}' {problem}")
{
    public string Field { get; } = field;
}
