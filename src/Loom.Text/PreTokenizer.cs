using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;

namespace Loom.Text;

/// <summary>Which pre-tokenization regex splits text into words before BPE.</summary>
public enum PreTokenizerKind
{
    /// <summary>GPT-2: <c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c>.</summary>
    Gpt2,

    /// <summary>Llama 3: <c>(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+</c>.</summary>
    Llama3,
}

/// <summary>Hand-written scanners equivalent to the GPT-2 and Llama 3 pre-tokenization regexes, working directly on UTF-8 bytes.</summary>
/// <remarks>
/// Matching is per Unicode code point (like the Rust/Oniguruma and JavaScript engines real tokenizers use),
/// not per UTF-16 unit. Bytes that are not valid UTF-8 count as one "other" (punctuation-like) character
/// per ill-formed sequence, so any byte string splits into pieces that concatenate back to the input.
/// </remarks>
public static class PreTokenizer
{
    /// <summary>The regex each scanner implements, as written in Hugging Face tokenizer.json files.</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    /// <summary>The Llama 3 pattern as written in its tokenizer.json.</summary>
    public const string Llama3Pattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    internal enum Cls : byte { Letter, Number, Space, Other }

    private static readonly Cls[] Ascii = BuildAscii();

    private static Cls[] BuildAscii()
    {
        var t = new Cls[128];
        for (int c = 0; c < 128; c++)
        {
            t[c] = char.IsLetter((char)c) ? Cls.Letter
                : char.IsDigit((char)c) ? Cls.Number
                : char.IsWhiteSpace((char)c) ? Cls.Space
                : Cls.Other;
        }
        return t;
    }

    /// <summary>The class of the code point starting at <paramref name="i"/>, and its length in bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Cls Classify(ReadOnlySpan<byte> s, int i, out int len)
    {
        byte b = s[i];
        if (b < 0x80) { len = 1; return Ascii[b]; }
        return ClassifySlow(s.Slice(i), out len);
    }

    private static Cls ClassifySlow(ReadOnlySpan<byte> s, out int len)
    {
        if (Rune.DecodeFromUtf8(s, out var r, out len) != OperationStatus.Done)
        {
            if (len <= 0) len = 1;
            return Cls.Other;
        }
        if (Rune.IsWhiteSpace(r)) return Cls.Space;
        switch (Rune.GetUnicodeCategory(r))
        {
            case UnicodeCategory.UppercaseLetter:
            case UnicodeCategory.LowercaseLetter:
            case UnicodeCategory.TitlecaseLetter:
            case UnicodeCategory.ModifierLetter:
            case UnicodeCategory.OtherLetter:
                return Cls.Letter;
            case UnicodeCategory.DecimalDigitNumber:
            case UnicodeCategory.LetterNumber:
            case UnicodeCategory.OtherNumber:
                return Cls.Number;
            default:
                return Cls.Other;
        }
    }

    /// <summary>End (exclusive) of the pre-token that starts at <paramref name="start"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Next(PreTokenizerKind kind, ReadOnlySpan<byte> s, int start)
        => kind == PreTokenizerKind.Llama3 ? NextLlama3(s, start) : NextGpt2(s, start);

    /// <summary>Splits <paramref name="text"/> into pre-token ranges (for tests and tools; the encoder calls <see cref="Next"/>).</summary>
    public static List<Range> Split(PreTokenizerKind kind, ReadOnlySpan<byte> text)
    {
        var result = new List<Range>();
        for (int i = 0; i < text.Length;)
        {
            int end = Next(kind, text, i);
            result.Add(i..end);
            i = end;
        }
        return result;
    }

    private static int Run(ReadOnlySpan<byte> s, int i, Cls cls)
    {
        while (i < s.Length && Classify(s, i, out int len) == cls) i += len;
        return i;
    }

    // Length of a contraction ('s 't 'm 'd 're 've 'll) at i, or 0.
    private static int Contraction(ReadOnlySpan<byte> s, int i, bool ignoreCase)
    {
        if (i + 1 >= s.Length) return 0;
        int c1 = s[i + 1], c2 = i + 2 < s.Length ? s[i + 2] : 0;
        if (ignoreCase)
        {
            c1 = c1 is >= 'A' and <= 'Z' ? c1 + 32 : c1;
            c2 = c2 is >= 'A' and <= 'Z' ? c2 + 32 : c2;
        }
        if (c1 is 's' or 't' or 'm' or 'd') return 2;
        if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return 3;
        return 0;
    }

    // \s+(?!\S) then \s+: a whitespace run gives back its last character to a following word
    // (so " word" keeps its space), unless it is a single character or reaches the end.
    private static int Whitespace(ReadOnlySpan<byte> s, int i)
    {
        int j = i, lastStart = i;
        while (j < s.Length)
        {
            if (Classify(s, j, out int len) != Cls.Space) break;
            lastStart = j;
            j += len;
        }
        if (j == s.Length) return j;
        return lastStart > i ? lastStart : j;
    }

    private static int NextGpt2(ReadOnlySpan<byte> s, int i)
    {
        byte b = s[i];
        if (b == '\'')
        {
            int c = Contraction(s, i, ignoreCase: false);
            if (c > 0) return i + c;
        }
        var cls = Classify(s, i, out int len);
        if (b == ' ' && i + 1 < s.Length)
        {
            var next = Classify(s, i + 1, out int len2);
            if (next != Cls.Space) return Run(s, i + 1 + len2, next);
        }
        return cls == Cls.Space ? Whitespace(s, i) : Run(s, i + len, cls);
    }

    private static int NextLlama3(ReadOnlySpan<byte> s, int i)
    {
        byte b = s[i];
        if (b == '\'')
        {
            int c = Contraction(s, i, ignoreCase: true);
            if (c > 0) return i + c;
        }
        var cls = Classify(s, i, out int len);
        if (cls == Cls.Letter) return Run(s, i + len, Cls.Letter);
        // [^\r\n\p{L}\p{N}]?\p{L}+ : one leading space or punctuation character joins the word after it.
        if (cls != Cls.Number && b != '\r' && b != '\n' && i + len < s.Length
            && Classify(s, i + len, out int len2) == Cls.Letter)
            return Run(s, i + len + len2, Cls.Letter);
        if (cls == Cls.Number)
        {
            int j = i + len;
            for (int k = 1; k < 3 && j < s.Length && Classify(s, j, out int l) == Cls.Number; k++) j += l;
            return j;
        }
        // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
        int p = -1;
        if (cls == Cls.Other) p = Run(s, i + len, Cls.Other);
        else if (b == ' ' && i + 1 < s.Length && Classify(s, i + 1, out int len3) == Cls.Other) p = Run(s, i + 1 + len3, Cls.Other);
        if (p >= 0)
        {
            while (p < s.Length && s[p] is (byte)'\r' or (byte)'\n') p++;
            return p;
        }
        // `\s*[\r\n]+`: the whitespace run up to and including its last line break.
        int end = i, lastNewline = -1;
        while (end < s.Length && Classify(s, end, out int l) == Cls.Space)
        {
            if (s[end] is (byte)'\r' or (byte)'\n') lastNewline = end;
            end += l;
        }
        if (lastNewline >= 0) return lastNewline + 1;
        return Whitespace(s, i);
    }
}
