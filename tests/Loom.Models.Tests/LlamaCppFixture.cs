using System.Text.Json;
using System.Text.Json.Serialization;

namespace Loom.Models.Tests;

/// <summary>
/// One recorded llama.cpp run on a GGUF file that Loom writes from a fixed seed: the file's recipe and SHA-256, the
/// prompt's tokens, llama.cpp's 32-token greedy continuation, the argmax of every position and the logits of every
/// position at a fixed subset of vocabulary ids (written by tools/llamacpp/make_parity_fixtures.sh).
/// </summary>
public sealed class LlamaCppFixture
{
    [JsonPropertyName("arch")] public required string Arch { get; init; }
    /// <summary>Name of the tokenizer under data/tokenizers the file embeds.</summary>
    [JsonPropertyName("tokenizer")] public required string Tokenizer { get; init; }
    /// <summary>Tensor type of the weight matrices (F32, Q4_K, ...).</summary>
    [JsonPropertyName("type")] public required string Type { get; init; }
    [JsonPropertyName("seed")] public required int Seed { get; init; }
    [JsonPropertyName("shape")] public required string Shape { get; init; }
    [JsonPropertyName("gguf_sha256")] public required string GgufSha256 { get; init; }
    [JsonPropertyName("prompt")] public required string Prompt { get; init; }
    [JsonPropertyName("vocab_size")] public required int VocabSize { get; init; }
    [JsonPropertyName("tokens")] public required int[] Tokens { get; init; }
    [JsonPropertyName("greedy")] public required int[] Greedy { get; init; }
    /// <summary>llama.cpp's argmax of every prompt position.</summary>
    [JsonPropertyName("argmax")] public required int[] Argmax { get; init; }
    /// <summary>The vocabulary ids whose logits are kept: a seeded sample plus every position's argmax, ascending.</summary>
    [JsonPropertyName("ids")] public required int[] Ids { get; init; }
    /// <summary>Little-endian f32 logits, (tokens, ids) row-major, base64.</summary>
    [JsonPropertyName("logits_f32")] public required string LogitsF32 { get; init; }
    /// <summary>Full-vocabulary NMSE of Loom against llama.cpp when the fixture was recorded (evidence, not an input).</summary>
    [JsonPropertyName("recorded_full_nmse")] public double? RecordedFullNmse { get; init; }
    [JsonPropertyName("llamacpp")] public required string LlamaCpp { get; init; }

    private static readonly JsonSerializerOptions Options = new() { WriteIndented = false };

    /// <summary>The NMSE bound the issue sets: 1e-6 for float files, 1e-4 for quantized ones.</summary>
    public double NmseBound => Type is "F32" or "F16" or "BF16" ? 1e-6 : 1e-4;

    /// <summary>The recorded logits as (tokens, ids).</summary>
    public float[] SubsetLogits()
    {
        var bytes = Convert.FromBase64String(LogitsF32);
        if (bytes.Length != Tokens.Length * Ids.Length * 4)
            throw new InvalidDataException($"logits_f32 holds {bytes.Length} bytes, expected {Tokens.Length} x {Ids.Length} floats");
        var values = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, values, 0, bytes.Length);
        return values;
    }

    public static LlamaCppFixture Load(string path) =>
        JsonSerializer.Deserialize<LlamaCppFixture>(File.ReadAllText(path), Options)
        ?? throw new InvalidDataException($"{path}: empty fixture");

    public string ToJson() => JsonSerializer.Serialize(this, Options);

    /// <summary>The seeded id sample (same for every fixture of a vocabulary size) plus <paramref name="extra"/>, ascending, distinct.</summary>
    public static int[] ChooseIds(int vocabSize, int sampleCount, IEnumerable<int> extra)
    {
        var rng = new Random(20261125);
        var ids = new SortedSet<int>(extra);
        int target = Math.Min(vocabSize, ids.Count + sampleCount);
        while (ids.Count < target) ids.Add(rng.Next(vocabSize));
        return ids.ToArray();
    }

    /// <summary>Sum of squared differences over sum of squares of <paramref name="reference"/>, in double.</summary>
    public static double Nmse(ReadOnlySpan<float> reference, ReadOnlySpan<float> actual)
    {
        if (reference.Length != actual.Length) throw new ArgumentException($"lengths differ: {reference.Length} vs {actual.Length}");
        double diff = 0, norm = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            double d = (double)actual[i] - reference[i];
            diff += d * d;
            norm += (double)reference[i] * reference[i];
        }
        return norm == 0 ? (diff == 0 ? 0 : double.PositiveInfinity) : diff / norm;
    }

    /// <summary>Index of the largest value, lowest index on ties (as the oracle's greedy picks).</summary>
    public static int ArgMax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int i = 1; i < row.Length; i++)
            if (row[i] > row[best]) best = i;
        return best;
    }
}
