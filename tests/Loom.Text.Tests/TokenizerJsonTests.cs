using System.Text;
using Loom.Text;

namespace Loom.Text.Tests;

public class TokenizerJsonTests
{
    private const string Minimal = """
        {"added_tokens":[], "normalizer":NORM, "pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"use_regex":true},
         "post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],
            "special_tokens":{"<s>":{"id":"<s>","ids":[256],"tokens":["<s>"]}}},
         "decoder":{"type":"ByteLevel"}, "model":{"type":"MODEL","vocab":VOCAB,"merges":[]}}
        """;

    private static string Vocab(bool withS)
    {
        var entries = Enumerable.Range(0, 256).Select(b => $"{System.Text.Json.JsonSerializer.Serialize(ByteLevel.CharOf((byte)b).ToString())}:{b}");
        if (withS) entries = entries.Append("\"<s>\":256");
        return "{" + string.Join(",", entries) + "}";
    }

    private static BpeTokenizer Parse(string json, string name = "my/tokenizer.json")
        => TokenizerJson.Read(new MemoryStream(Encoding.UTF8.GetBytes(json)), name);

    [Fact]
    public void ReadsAMinimalFileWithTemplateBos()
    {
        var tok = Parse(Minimal.Replace("NORM", "null").Replace("MODEL", "BPE").Replace("VOCAB", Vocab(true)));
        Assert.Equal(256, tok.BosId);
        Assert.Equal([256, 104, 105], tok.Encode("hi", addBos: true));
    }

    [Theory]
    [InlineData("normalizer", "{\"type\":\"NFC\"}", "BPE")]
    [InlineData("model.type", "null", "WordPiece")]
    public void UnsupportedFeaturesNameFileAndField(string field, string norm, string model)
    {
        var e = Assert.Throws<TokenizerFormatException>(() => Parse(Minimal.Replace("NORM", norm).Replace("MODEL", model).Replace("VOCAB", Vocab(true))));
        Assert.Contains("my/tokenizer.json", e.Message);
        Assert.Contains(field, e.Message);
    }

    [Fact]
    public void UnknownRegexAndMissingIdsAreReported()
    {
        string json = Minimal.Replace("NORM", "null").Replace("MODEL", "BPE").Replace("VOCAB", Vocab(false))
            .Replace("\"<s>\":{\"id\":\"<s>\",\"ids\":[256],\"tokens\":[\"<s>\"]}", "");
        var e = Assert.Throws<TokenizerFormatException>(() => Parse(json));
        Assert.Contains("post_processor.single[0]", e.Message);

        string split = Minimal.Replace("NORM", "null").Replace("MODEL", "BPE").Replace("VOCAB", Vocab(true))
            .Replace("{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true}", "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"\\\\w+\"},\"behavior\":\"Isolated\"}");
        e = Assert.Throws<TokenizerFormatException>(() => Parse(split));
        Assert.Contains("pre_tokenizer.pattern", e.Message);
    }
}
