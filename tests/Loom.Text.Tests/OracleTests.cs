using System.Text;
using Loom.Text;

namespace Loom.Text.Tests;

/// <summary>Loom's encoder against ids from the real GPT-2 and Llama 3 tokenizers (tools/tokenizers/make_fixtures.mjs).</summary>
public class OracleTests
{
    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama3")]
    public void EncodesExactlyLikeTheReferenceTokenizer(string name)
    {
        var tok = name == "gpt2" ? TestData.Gpt2 : TestData.Llama3;
        var (whole, lines, allowSpecial) = TestData.Oracle($"tokenizer_{name}_ids.json");
        Assert.Equal(whole.Ids, tok.Encode(whole.Text, allowSpecial: allowSpecial));
        foreach (var line in lines)
            Assert.True(line.Ids.SequenceEqual(tok.Encode(line.Text, allowSpecial: allowSpecial)),
                $"{name}: line {System.Text.Json.JsonSerializer.Serialize(line.Text)}: expected [{string.Join(",", line.Ids)}] got [{string.Join(",", tok.Encode(line.Text, allowSpecial: allowSpecial))}]");
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama3")]
    public void DecodesTheReferenceIdsBackToTheText(string name)
    {
        var tok = name == "gpt2" ? TestData.Gpt2 : TestData.Llama3;
        var (whole, _, _) = TestData.Oracle($"tokenizer_{name}_ids.json");
        Assert.Equal(whole.Text, tok.Decode(whole.Ids));
    }

    [Fact]
    public void SampleFileMatchesTheFixtureText()
    {
        var (whole, _, _) = TestData.Oracle("tokenizer_gpt2_ids.json");
        Assert.Equal(whole.Text, File.ReadAllText(TestData.Fixture("tokenizer_sample.txt"), Encoding.UTF8));
    }

    [Fact]
    public void KnownIdsAndSpecialTokens()
    {
        var gpt2 = TestData.Gpt2;
        Assert.Equal(50257, gpt2.VocabSize);
        Assert.Equal(50256, gpt2.TokenToId("<|endoftext|>"));
        Assert.Equal([15496, 995, 50256], gpt2.Encode("Hello world<|endoftext|>"));
        var llama = TestData.Llama3;
        Assert.Equal(128256, llama.VocabSize);
        Assert.Equal(128000, llama.TokenToId("<|begin_of_text|>"));
        Assert.True(llama.IgnoreMerges);
        // Not allowed: the special token's text is encoded as ordinary text.
        var plain = llama.Encode("<|begin_of_text|>", allowSpecial: false);
        Assert.DoesNotContain(128000, plain);
        Assert.Equal("<|begin_of_text|>", llama.Decode(plain));
        Assert.Equal("", llama.Decode([128000, 128001], skipSpecial: true));
    }

    [Fact]
    public void SavedAndReloadedReferenceTokenizerEncodesTheSame()
    {
        var gpt2 = TestData.Gpt2;
        using var ms = new MemoryStream();
        TokenizerJson.Write(gpt2, ms);
        ms.Position = 0;
        var again = TokenizerJson.Read(ms, "memory");
        var (whole, _, _) = TestData.Oracle("tokenizer_gpt2_ids.json");
        Assert.Equal(whole.Ids, again.Encode(whole.Text, allowSpecial: false));
        Assert.Equal(gpt2.VocabSize, again.VocabSize);
        Assert.Equal(gpt2.Merges, again.Merges);
    }
}
