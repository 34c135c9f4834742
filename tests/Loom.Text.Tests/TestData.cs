using System.Text;
using System.Text.Json;
using Loom.Text;

namespace Loom.Text.Tests;

/// <summary>Locates committed fixtures and builds deterministic training text.</summary>
internal static class TestData
{
    public static string RepoRoot => Loom.Testing.Fixtures.RepoRoot;

    public static string Fixture(string name) => Loom.Testing.Fixtures.PathOf(name);

    public static string Tokenizer(string name) => Path.Combine(RepoRoot, "data", "tokenizers", name);

    private static readonly Lazy<BpeTokenizer> Gpt2Lazy = new(() => TokenizerJson.Load(Tokenizer("gpt2.tokenizer.json.gz")));
    private static readonly Lazy<BpeTokenizer> Llama3Lazy = new(() => TokenizerJson.Load(Tokenizer("llama3.tokenizer.json.gz")));

    public static BpeTokenizer Gpt2 => Gpt2Lazy.Value;

    public static BpeTokenizer Llama3 => Llama3Lazy.Value;

    /// <summary>Oracle ids written by tools/tokenizers/make_fixtures.mjs.</summary>
    public sealed record OracleCase(string Text, int[] Ids);

    public static (OracleCase Whole, List<OracleCase> Lines, bool AllowSpecial) Oracle(string file)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Fixture(file)));
        var r = doc.RootElement;
        OracleCase Case(JsonElement e) => new(e.GetProperty("text").GetString()!, e.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()).ToArray());
        return (Case(r), r.GetProperty("lines").EnumerateArray().Select(Case).ToList(), r.GetProperty("allow_special").GetBoolean());
    }

    /// <summary>Multilingual, code-like pseudo-text from a fixed seed: the same string every run.</summary>
    public static string Corpus(int words, int seed = 1)
    {
        string[] vocab =
        [
            "the", "of", "and", "tokenizer", "merge", "byte", "pair", "encoding", "model", "training", "loss", "Loom",
            "Größe", "straße", "élève", "café", "данные", "модель", "数据", "模型", "トークン", "東京", "😀", "🎉",
            "x = 1;", "for (int i = 0; i < n; i++)", "return", "def", "self.value", "12345", "3.14", "0xFF", "    ", "\n", "\n\n", "\t",
            "it's", "we'll", "DON'T", "<tag>", "{}", "[]", "==", "->", "...",
        ];
        var rng = new Random(seed);
        var sb = new StringBuilder();
        for (int i = 0; i < words; i++)
        {
            // Zipf-like: early words much more frequent, so merges have something to find.
            int k = (int)(vocab.Length * Math.Pow(rng.NextDouble(), 2.5));
            sb.Append(vocab[k]);
            if (rng.Next(4) != 0) sb.Append(' ');
        }
        return sb.ToString();
    }

    /// <summary>A small tokenizer trained on <see cref="Corpus"/>; cached because several tests use it.</summary>
    public static BpeTokenizer Trained(PreTokenizerKind kind) => kind == PreTokenizerKind.Gpt2 ? TrainedGpt2.Value : TrainedLlama3.Value;

    private static readonly Lazy<BpeTokenizer> TrainedGpt2 = new(() => Train(PreTokenizerKind.Gpt2));
    private static readonly Lazy<BpeTokenizer> TrainedLlama3 = new(() => Train(PreTokenizerKind.Llama3));

    public static BpeTokenizer Train(PreTokenizerKind kind, int vocab = 600)
    {
        var trainer = new BpeTrainer(new BpeTrainerOptions
        {
            VocabSize = vocab,
            PreTokenizer = kind,
            SpecialTokens = ["<|endoftext|>", "<|bos|>"],
            Bos = "<|bos|>",
            Eos = "<|endoftext|>",
        });
        trainer.Add(Corpus(20000));
        return trainer.Train();
    }
}
