using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Loom.Text;

namespace Loom.Text.Tests;

public class PreTokenizerTests
{
    private static readonly Regex Gpt2Regex = new(PreTokenizer.Gpt2Pattern, RegexOptions.CultureInvariant);
    private static readonly Regex Llama3Regex = new(PreTokenizer.Llama3Pattern, RegexOptions.CultureInvariant);

    private static Regex RegexFor(PreTokenizerKind kind) => kind == PreTokenizerKind.Gpt2 ? Gpt2Regex : Llama3Regex;

    private static List<string> Scan(PreTokenizerKind kind, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        return PreTokenizer.Split(kind, bytes).Select(r => Encoding.UTF8.GetString(bytes[r])).ToList();
    }

    // .NET's Regex matches UTF-16 units, so a surrogate pair is two "other" characters to it, while real
    // tokenizers (Rust, JavaScript /u) and the scanner see one code point. Each supplementary code point is
    // therefore replaced by a BMP stand-in of the same class (letter, digit or symbol) before the regex runs,
    // and the pieces are mapped back to the original text.
    private static List<string> RegexSplit(PreTokenizerKind kind, string text)
    {
        var mapped = new StringBuilder();
        var origin = new List<int>();   // mapped char index -> original char index
        for (int i = 0; i < text.Length;)
        {
            var r = Rune.GetRuneAt(text, i);
            if (r.IsBmp) mapped.Append((char)r.Value);
            else
            {
                var cat = Rune.GetUnicodeCategory(r);
                mapped.Append(cat switch
                {
                    UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                        or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => 'Ж',
                    UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => '٣',
                    _ => '©',
                });
            }
            origin.Add(i);
            i += r.Utf16SequenceLength;
        }
        origin.Add(text.Length);
        var pieces = new List<string>();
        int covered = 0;
        foreach (Match m in RegexFor(kind).Matches(mapped.ToString()))
        {
            Assert.Equal(covered, m.Index);   // both patterns cover every character
            pieces.Add(text[origin[m.Index]..origin[m.Index + m.Length]]);
            covered = m.Index + m.Length;
        }
        Assert.Equal(mapped.Length, covered);
        return pieces;
    }

    public static TheoryData<PreTokenizerKind, string> Samples()
    {
        string[] texts =
        [
            "Hello world! It's 2024, isn't it? I'M HERE, they'LL see.",
            "  leading spaces\tand\ttabs   and trailing   ",
            "line one\nline two\r\n\r\nline four\n\n\n   indented\n  \n\tx",
            "1234567890 12 123 1,000.50 -42 ٣٤٥ ½ Ⅻ ²",
            "Größere Äpfel, l'élève, Съешь ещё, 我们正在测试。東京はラーメン！",
            "emoji 😀🎉👍🏽 👨‍👩‍👧‍👦 🇩🇪 ❤️ rocket🚀launch 😀hello x😀 (😀)",
            "math 𝐇𝐞𝐥𝐥𝐨 𝟏𝟐𝟑 ∑xᵢ² \u00a0nbsp\u3000ideo\u2003em\u2028ls\u2029ps",
            "def f(x):\n    return x**2  # comment\n\nint main() { return 0; }\n",
            "'s 't 're 've 'm 'll 'd 'S 'T 'RE 'Ve 'LL 'D 'x ''s '",
            "...!!! ?? ,, -- __ ++ == => :: ;; \"quoted\" (paren) [br] {cb}",
            " \n", "\n ", " ", "a", "", "  \r\n  x", "\r\r\n\n a", "x \ny", "x  \n  y",
            "café\u0301 naïve combining\u0308 marks",
        ];
        var data = new TheoryData<PreTokenizerKind, string>();
        foreach (var kind in new[] { PreTokenizerKind.Gpt2, PreTokenizerKind.Llama3 })
            foreach (var t in texts) data.Add(kind, t);
        return data;
    }

    [Theory]
    [MemberData(nameof(Samples))]
    public void ScannerSplitsLikeTheRegex(PreTokenizerKind kind, string text)
    {
        Assert.Equal(RegexSplit(kind, text), Scan(kind, text));
    }

    [Theory]
    [InlineData(PreTokenizerKind.Gpt2)]
    [InlineData(PreTokenizerKind.Llama3)]
    public void ScannerSplitsLikeTheRegexOnRandomText(PreTokenizerKind kind)
    {
        // Characters chosen to hit every branch: contractions, case, digits, each whitespace kind, marks, emoji.
        string[] atoms =
        [
            "a", "Z", "s", "t", "re", "LL", "'", " ", " ", "  ", "\t", "\n", "\r", "\r\n", "\u00a0", "\u3000", "1", "٣", "½",
            "!", ".", "-", "_", "(", "é", "ß", "ж", "中", "ー", "\u0301", "😀", "𝐇", "𝟏", "🇩🇪", "\u200d", "x1",
        ];
        var rng = new Random(42);
        for (int n = 0; n < 400; n++)
        {
            var sb = new StringBuilder();
            int len = rng.Next(1, 30);
            for (int i = 0; i < len; i++) sb.Append(atoms[rng.Next(atoms.Length)]);
            string text = sb.ToString();
            Assert.True(RegexSplit(kind, text).SequenceEqual(Scan(kind, text)),
                $"{kind} differs on {System.Text.Json.JsonSerializer.Serialize(text)}: regex [{string.Join("|", RegexSplit(kind, text))}] scanner [{string.Join("|", Scan(kind, text))}]");
        }
    }

    [Fact]
    public void UnmodifiedRegexAgreesOnBmpText()
    {
        // No stand-ins needed when there are no surrogate pairs: the plain .NET Regex gives the same pieces.
        string text = "It's 12345 fine!\n\n  Größe \u3000中文 ½ x\r\n";
        foreach (var kind in new[] { PreTokenizerKind.Gpt2, PreTokenizerKind.Llama3 })
            Assert.Equal(RegexFor(kind).Matches(text).Select(m => m.Value), Scan(kind, text));
    }

    [Fact]
    public void InvalidUtf8IsCoveredExactly()
    {
        var rng = new Random(7);
        var bytes = new byte[5000];
        rng.NextBytes(bytes);
        foreach (var kind in new[] { PreTokenizerKind.Gpt2, PreTokenizerKind.Llama3 })
        {
            int at = 0;
            foreach (var r in PreTokenizer.Split(kind, bytes))
            {
                Assert.Equal(at, r.Start.Value);
                Assert.True(r.End.Value > at);
                at = r.End.Value;
            }
            Assert.Equal(bytes.Length, at);
        }
    }
}
