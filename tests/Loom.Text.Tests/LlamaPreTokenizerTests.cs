using System.Text;
using Loom.Text;

namespace Loom.Text.Tests;

/// <summary>llama.cpp's pre-tokenizer splits on small hand-checked strings (the fixtures in Loom.Models.Tests check whole texts against llama.cpp).</summary>
public class LlamaPreTokenizerTests
{
    private static string[] Split(string? pre, string text)
    {
        var p = new LlamaPreTokenizer(LlamaPreTokenizer.RegexesFor(pre, out _, out _)!);
        var cpts = text.EnumerateRunes().Select(r => (uint)r.Value).ToArray();
        var pieces = new List<string>();
        int start = 0;
        foreach (int len in p.Split(cpts))
        {
            var sb = new StringBuilder();
            for (int i = start; i < start + len; i++) sb.Append(new Rune(cpts[i]).ToString());
            pieces.Add(sb.ToString());
            start += len;
        }
        return pieces.ToArray();
    }

    [Fact]
    public void Llama3GroupsDigitsByThreeAndGivesTheLastSpaceToTheWord() =>
        Assert.Equal(["Hello", " ", " world", " ", "123", "45", "'S"], Split("llama-bpe", "Hello  world 12345'S"));

    [Fact]
    public void Qwen2SplitsEveryDigitAndPunctuationKeepsItsNewlines() =>
        Assert.Equal(["x", "1", "2", " 🦙\n\n"], Split("qwen2", "x12 🦙\n\n"));   // " ?[^\s\p{L}\p{N}]+[\r\n]*" takes the newlines

    [Fact]
    public void Gpt2KeepsSpaceBeforeNumbersAndHasNoCaseInsensitiveContractions() =>
        Assert.Equal(["It", "'s", " 2026", "'", "S"], Split("gpt-2", "It's 2026'S"));

    [Fact]
    public void RegexListsSplitPiecesInTurn()
    {
        // smollm: every digit alone first, then GPT-2 on each piece.
        Assert.Equal(["a", "1", "2", " b"], Split("smollm", "a12 b"));
        // deepseek-v3: digits by three, CJK runs, then the letter/punctuation regex.
        Assert.Equal(["123", "4", "漢字", "ab", "!"], Split("deepseek-v3", "1234漢字ab!"));
    }

    [Fact]
    public void UnknownNamesAreNotGuessed() => Assert.Null(LlamaPreTokenizer.RegexesFor("no-such-pre", out _, out _));
}
