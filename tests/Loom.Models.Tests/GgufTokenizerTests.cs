using System.Collections.Concurrent;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Loom.Formats;
using Loom.Models.Gguf;
using Loom.Testing;
using Loom.Text;

namespace Loom.Models.Tests;

/// <summary>
/// GGUF tokenizers against llama.cpp: tests/fixtures/tokenizers/gguf holds llama_tokenize's ids for the committed
/// tokenizers (tools/llamacpp/make_tokenizer_fixtures.sh); these tests rebuild the same vocab-only GGUF files from
/// data/tokenizers and must give the same ids and pieces, token for token.
/// </summary>
public class GgufTokenizerTests
{
    private static readonly ConcurrentDictionary<string, LlamaTokenizer> Cache = new();

    private static string SamplePath => Path.Combine(Fixtures.RepoRoot, "data", "tokenizers", "sample-multilingual.txt");

    private static GgufVocab VocabOf(string name)
    {
        string dir = Path.Combine(Fixtures.RepoRoot, "data", "tokenizers");
        return name switch
        {
            "gpt2" => GgufTokenizer.FromTokenizerJson(Path.Combine(dir, "gpt2.tokenizer.json.gz")),
            "llama3" => GgufTokenizer.FromTokenizerJson(Path.Combine(dir, "llama3.tokenizer.json.gz"), Path.Combine(dir, "llama3", "tokenizer_config.json")),
            _ => GgufTokenizer.FromTokenizerJson(Path.Combine(dir, name, "tokenizer.json.gz"), Path.Combine(dir, name, "tokenizer_config.json")),
        };
    }

    // Through a real GGUF file, as llama.cpp reads it.
    private static LlamaTokenizer Load(string name) => Cache.GetOrAdd(name, n =>
    {
        string path = Path.Combine(Path.GetTempPath(), $"loom-vocab-{n}-{Environment.ProcessId}.gguf");
        try
        {
            GgufTokenizer.WriteVocabOnly(path, VocabOf(n), n);
            using var f = GgufFile.Open(path);
            return GgufTokenizer.Load(f);
        }
        finally { File.Delete(path); }
    });

    private static LlamaTokenizer LoadLlamaCppSpm() => Cache.GetOrAdd("llamacpp-llama-spm", _ =>
    {
        string path = Path.Combine(Path.GetTempPath(), $"loom-ggml-vocab-llama-spm-{Environment.ProcessId}.gguf");
        try
        {
            using (var gz = new GZipStream(File.OpenRead(Fixtures.PathOf("tokenizers/gguf/ggml-vocab-llama-spm.gguf.gz")), CompressionMode.Decompress))
            using (var o = File.Create(path)) gz.CopyTo(o);
            using var f = GgufFile.Open(path);
            return GgufTokenizer.Load(f);
        }
        finally { File.Delete(path); }
    });

    private static JsonElement Fixture(string name) => JsonDocument.Parse(File.ReadAllText(Fixtures.PathOf($"tokenizers/gguf/{name}.json"))).RootElement;

    private static int[] Ids(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt32()).ToArray();

    private static void AssertSameIds(int[] expected, int[] actual, string what)
    {
        int first = 0;
        while (first < Math.Min(expected.Length, actual.Length) && expected[first] == actual[first]) first++;
        if (first == expected.Length && first == actual.Length) return;
        string Around(int[] a) => string.Join(",", a.Skip(Math.Max(0, first - 3)).Take(8));
        Assert.Fail($"{what}: first difference at token {first} of {expected.Length} (llama.cpp) / {actual.Length} (Loom): llama.cpp [{Around(expected)}], Loom [{Around(actual)}]");
    }

    private static void CheckSample(LlamaTokenizer tok, JsonElement fixture, string what)
    {
        string text = Encoding.UTF8.GetString(File.ReadAllBytes(SamplePath));
        var special = tok.Encode(text, addSpecial: true, parseSpecial: true);
        var plain = tok.Encode(text, addSpecial: true, parseSpecial: false);
        AssertSameIds(Ids(fixture.GetProperty("special")), special, what + " parse_special=true");
        AssertSameIds(Ids(fixture.GetProperty("plain")), plain, what + " parse_special=false");
        foreach (var p in fixture.GetProperty("pieces").EnumerateObject())
            Assert.Equal(p.Value.GetString(), Convert.ToHexStringLower(tok.Piece(int.Parse(p.Name))));
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama3")]
    [InlineData("llama3_1")]
    [InlineData("qwen3")]
    [InlineData("deepseek_v3")]
    [InlineData("llama2")]
    [InlineData("gemma3")]
    public void EncodesTheSampleAsLlamaCppDoes(string name) => CheckSample(Load(name), Fixture(name), name);

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama3")]
    [InlineData("qwen3")]
    [InlineData("deepseek_v3")]
    public void ByteLevelTokensDecodeBackToTheText(string name)
    {
        var tok = Load(name);
        byte[] bytes = File.ReadAllBytes(SamplePath);
        string text = Encoding.UTF8.GetString(bytes);
        foreach (bool parseSpecial in new[] { true, false })
        {
            var ids = tok.Encode(text, addSpecial: false, parseSpecial);
            Assert.Equal(bytes, tok.DecodeBytes(ids));
        }
    }

    [Theory]
    [InlineData("llama2")]
    [InlineData("gemma3")]
    public void SentencePieceTokensDecodeBackToTheText(string name)
    {
        var tok = Load(name);
        string text = "Größe 🦙 and\tcode  x\n敏捷";
        var ids = tok.Encode(text, addSpecial: false, parseSpecial: false);
        string decoded = Encoding.UTF8.GetString(tok.DecodeBytes(ids));
        Assert.Equal(tok.Vocab.AddSpacePrefix ?? true ? " " + text : text, decoded);
    }

    [Fact]
    public void LlamaCppsOwnLlamaSpmVocabMatchesItsTestCases()
    {
        var tok = LoadLlamaCppSpm();
        string raw = File.ReadAllText(Fixtures.PathOf("tokenizers/gguf/ggml-vocab-llama-spm.gguf.inp"), Encoding.UTF8);
        var cases = raw.Split("\n__ggml_vocab_test__\n").ToList();
        if (cases[^1].Length == 0) cases.RemoveAt(cases.Count - 1);
        var expected = Fixture("llamacpp-llama-spm").GetProperty("cases").EnumerateArray().Select(Ids).ToArray();
        Assert.Equal(expected.Length, cases.Count);
        for (int i = 0; i < cases.Count; i++)
            AssertSameIds(expected[i], tok.Encode(cases[i], addSpecial: false, parseSpecial: false), $"case {i} {JsonSerializer.Serialize(cases[i])}");
        CheckSample(tok, Fixture("llamacpp-llama-spm-sample"), "ggml-vocab-llama-spm");
    }

    [Fact]
    public void SpecialIdsAndFlagsFollowTheConfig()
    {
        var llama3 = Load("llama3_1");
        Assert.Equal(128000, llama3.BosId);
        Assert.True(llama3.AddBos);
        Assert.Contains(128009, llama3.EndOfGeneration);   // <|eot_id|>
        Assert.True(llama3.IsSpecial(128009));
        var qwen = Load("qwen3");
        Assert.False(qwen.AddBos);
        Assert.Equal("qwen2", qwen.Vocab.Pre);
        Assert.Contains(qwen.TokenToId("<|im_end|>")!.Value, qwen.EndOfGeneration);
        Assert.Equal("deepseek-v3", Load("deepseek_v3").Vocab.Pre);
        Assert.Equal("llama", Load("llama2").Vocab.Model);
        Assert.False(Load("gemma3").Vocab.AddSpacePrefix);
        Assert.NotNull(Load("qwen3").Vocab.ChatTemplate);
    }
}
