using System.Text;
using System.Text.Json;
using Loom.Formats;
using Loom.Models.Gguf;
using Loom.Testing;
using Loom.Text;

namespace Loom.Models.Tests;

/// <summary>GGUF tokenizer metadata: writing, reading, HF tokenizer.json both ways, and hostile files naming the bad field.</summary>
public class GgufVocabTests
{
    private static GgufVocab Tiny(string model = "gpt2") => model == "gpt2"
        ? new GgufVocab
        {
            Model = "gpt2", Pre = "gpt-2", Tokens = ["a", "b", "ab", "Ġ", "Ġab", "<s>", "<|x|>"], Merges = ["a b", "Ġ ab"],
            TokenTypes = [GgufTokenType.Normal, GgufTokenType.Normal, GgufTokenType.Normal, GgufTokenType.Normal, GgufTokenType.Normal, GgufTokenType.Control, GgufTokenType.UserDefined],
            BosId = 5, EosId = 5, AddBos = true,
        }
        : new GgufVocab
        {
            Model = "llama", Tokens = ["<unk>", "<s>", "</s>", "<0x41>", "▁", "a", "b", "ab", "▁ab"], Scores = [0, 0, 0, 0, -5, -6, -7, -1, -2],
            TokenTypes = [GgufTokenType.Unknown, GgufTokenType.Control, GgufTokenType.Control, GgufTokenType.Byte, GgufTokenType.Normal,
                GgufTokenType.Normal, GgufTokenType.Normal, GgufTokenType.Normal, GgufTokenType.Normal],
            BosId = 1, EosId = 2, UnkId = 0,
        };

    private static string TempPath(string name) => Path.Combine(Path.GetTempPath(), $"loom-{name}-{Environment.ProcessId}-{Guid.NewGuid():N}.gguf");

    // Writes metadata (optionally tampered with) and reads the tokenizer back through GgufFile.
    private static LlamaTokenizer RoundTrip(GgufVocab vocab, Action<GgufWriter>? extra = null)
    {
        string path = TempPath("vocab");
        try
        {
            var w = new GgufWriter();
            w.Add("general.architecture", GgufValue.String("llama"));
            GgufTokenizer.WriteMetadata(w, vocab);
            extra?.Invoke(w);
            w.Save(path);
            using var f = GgufFile.Open(path);
            return GgufTokenizer.Load(f);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void TinyByteLevelVocabEncodesAndDecodes()
    {
        var tok = RoundTrip(Tiny());
        Assert.Equal([5, 2, 4, 6, 5], tok.Encode("ab ab<|x|><s>"));
        // Without parse_special the control token is text; its characters are not in this vocab, so llama.cpp drops them.
        Assert.Equal([5, 2, 4, 6], tok.Encode("ab ab<|x|><s>", addSpecial: true, parseSpecial: false));
        Assert.Equal("ab ab<|x|>", Encoding.UTF8.GetString(tok.DecodeBytes([2, 4, 6, 5], skipSpecial: true)));
        Assert.Equal("<s>ab", Encoding.UTF8.GetString(tok.DecodeBytes([5, 2])));
        Assert.Contains(5, tok.EndOfGeneration);
    }

    [Fact]
    public void TinySentencePieceVocabMergesByScoreWithByteFallback()
    {
        var tok = RoundTrip(Tiny("llama"));
        // "ab" (score -1) merges first, then "▁ab" (-2); "A" is not a piece, so it falls back to <0x41>.
        Assert.Equal([1, 8, 3], tok.Encode("abA"));
        Assert.Equal([8, 8], tok.Encode("ab ab", addSpecial: false));
        Assert.Equal(" ab ab", Encoding.UTF8.GetString(tok.DecodeBytes([8, 8])));
        Assert.Equal("A", Encoding.UTF8.GetString(tok.Piece(3)));
    }

    [Fact]
    public void TinyGemma4VocabMergesRawTextWithSpacesAsMetaspace()
    {
        // Gemma 4 ("gemma4" model): BPE over ▁-escaped raw UTF-8, split only at newlines, <0xNN> byte fallback, BOS always added.
        var v = new GgufVocab
        {
            Model = "gemma4", Tokens = ["<pad>", "<eos>", "<bos>", "<0x41>", "▁", "a", "b", "ab", "▁ab", "\n", "\n\n"], Merges = ["a b", "▁ ab"],
            TokenTypes = [GgufTokenType.Control, GgufTokenType.Control, GgufTokenType.Control, GgufTokenType.Byte, .. Enumerable.Repeat(GgufTokenType.Normal, 7)],
            BosId = 2, EosId = 1,
        };
        var tok = RoundTrip(v);
        Assert.Equal([2, 7, 8, 10, 3], tok.Encode("ab ab\n\nA"));
        Assert.Equal("ab ab\n\nA", Encoding.UTF8.GetString(tok.DecodeBytes([7, 8, 10, 3])));
    }

    [Theory]
    [InlineData("tokenizer.ggml.scores", "scores")]
    [InlineData("tokenizer.ggml.token_type", "types")]
    [InlineData("tokenizer.ggml.merges[1]", "merges")]
    [InlineData("tokenizer.ggml.bos_token_id", "bos")]
    [InlineData("tokenizer.ggml.model", "model")]
    [InlineData("tokenizer.ggml.pre", "pre")]
    [InlineData("tokenizer.ggml.tokens", "duplicate")]
    [InlineData("tokenizer.ggml.tokens", "empty")]
    [InlineData("tokenizer.ggml.token_type[2]", "typevalue")]
    [InlineData("tokenizer.ggml.eos_token_id", "eostype")]
    public void InconsistentMetadataNamesTheField(string field, string damage)
    {
        var v = Tiny();
        v = damage switch
        {
            "scores" => v with { Scores = [0f, 1f] },
            "types" => v with { TokenTypes = v.TokenTypes![..3] },
            "merges" => v with { Merges = ["a b", "Ġ zz"] },
            "bos" => v with { BosId = 70 },
            "model" => v with { Model = "wordpiece" },
            "pre" => v with { Pre = "no-such-pre" },
            "duplicate" => v with { Tokens = ["a", "b", "ab", "Ġ", "Ġab", "<s>", "a"] },
            "empty" => v with { Tokens = [], TokenTypes = null, Merges = [], BosId = null, EosId = null },
            "typevalue" => v with { TokenTypes = [GgufTokenType.Normal, GgufTokenType.Normal, (GgufTokenType)42, 0, 0, 0, 0] },
            _ => v with { EosId = null },
        };
        var e = Assert.Throws<ModelFileException>(() => RoundTrip(v, damage == "eostype" ? w => w.Add("tokenizer.ggml.eos_token_id", GgufValue.String("five")) : null));
        Assert.Contains(field, e.Message);
    }

    [Fact]
    public void TokensOfTheWrongTypeNameTheField()
    {
        var v = Tiny();
        string path = TempPath("wrongtype");
        try
        {
            var w = new GgufWriter();
            w.Add("tokenizer.ggml.model", GgufValue.String("gpt2"));
            w.Add("tokenizer.ggml.tokens", GgufValue.Array([1, 2, 3]));
            w.Save(path);
            using var f = GgufFile.Open(path);
            var e = Assert.Throws<ModelFileException>(() => GgufTokenizer.Load(f));
            Assert.Contains("tokenizer.ggml.tokens", e.Message);
            Assert.Contains(path, e.Message);
        }
        finally { File.Delete(path); }
        Assert.NotNull(v);
    }

    [Fact]
    public void MalformedTokenizerJsonNamesTheFile()
    {
        string path = Path.Combine(Path.GetTempPath(), $"loom-bad-{Guid.NewGuid():N}.json");
        try
        {
            File.WriteAllText(path, "{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a\"]}}");
            var e = Assert.Throws<ModelFileException>(() => GgufTokenizer.FromTokenizerJson(path));
            Assert.Contains("model.merges[0]", e.Message);
            File.WriteAllText(path, "{\"model\": ");
            e = Assert.Throws<ModelFileException>(() => GgufTokenizer.FromTokenizerJson(path));
            Assert.Contains(path, e.Message);
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama3")]
    [InlineData("qwen3")]
    [InlineData("deepseek_v3")]
    [InlineData("llama2")]
    [InlineData("gpt2@default")]
    [InlineData("gpt2@falcon")]
    [InlineData("gpt2@deepseek-coder")]
    public void TokenizerJsonRoundTripKeepsTheVocabAndTheEncoding(string name)
    {
        string dir = Path.Combine(Fixtures.RepoRoot, "data", "tokenizers");
        string? pre = name.Contains('@') ? name[(name.IndexOf('@') + 1)..] : null;
        var vocab = name.Split('@')[0] switch
        {
            "gpt2" => GgufTokenizer.FromTokenizerJson(Path.Combine(dir, "gpt2.tokenizer.json.gz")),
            "llama3" => GgufTokenizer.FromTokenizerJson(Path.Combine(dir, "llama3.tokenizer.json.gz"), Path.Combine(dir, "llama3", "tokenizer_config.json")),
            _ => GgufTokenizer.FromTokenizerJson(Path.Combine(dir, name, "tokenizer.json.gz"), Path.Combine(dir, name, "tokenizer_config.json")),
        };
        if (pre != null) vocab = vocab with { Pre = pre };
        string json = Path.Combine(Path.GetTempPath(), $"loom-rt-{Guid.NewGuid():N}.tokenizer.json"), cfg = json + ".config.json";
        try
        {
            GgufTokenizer.ToTokenizerJson(vocab, json, cfg);
            var back = GgufTokenizer.FromTokenizerJson(json, cfg);
            Assert.Equal(vocab.Model, back.Model);
            Assert.Equal(vocab.Pre, back.Pre);
            Assert.Equal(vocab.Tokens, back.Tokens);
            Assert.Equal(vocab.TokenTypes, back.TokenTypes);
            if (vocab.Model == "gpt2") Assert.Equal(vocab.Merges, back.Merges);
            Assert.Equal((vocab.BosId, vocab.EosId, vocab.AddBos, vocab.ChatTemplate), (back.BosId, back.EosId, back.AddBos, back.ChatTemplate));
            var fixture = JsonDocument.Parse(File.ReadAllText(Fixtures.PathOf($"tokenizers/gguf/{name}.json"))).RootElement;
            string text = Encoding.UTF8.GetString(File.ReadAllBytes(Path.Combine(dir, "sample-multilingual.txt")));
            Assert.Equal(fixture.GetProperty("special").EnumerateArray().Select(x => x.GetInt32()), new LlamaTokenizer(back).Encode(text));
        }
        finally
        {
            File.Delete(json);
            File.Delete(cfg);
        }
    }
}
