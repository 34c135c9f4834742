using System.Text;
using System.Text.RegularExpressions;

namespace Loom.Text;

/// <summary>
/// llama.cpp's pre-tokenizer (unicode_regex_split): a list of regexes, each splitting the pieces the previous one
/// made, over codepoints classified by llama.cpp's own Unicode table. The GPT-2, Llama 3 and Qwen 2 regexes run as
/// hand-written scanners (as llama.cpp's custom splitters do); other regexes run on .NET <see cref="Regex"/> over
/// the same "collapsed" text llama.cpp feeds std::regex (one character per codepoint, non-ASCII codepoints
/// replaced by a byte standing for their category).
/// </summary>
public sealed class LlamaPreTokenizer
{
    private const uint OutOfRange = 0xFFFFFFFF;

    // Category flags, as unicode.h numbers them.
    internal const ushort FlagNumber = 0x0002, FlagLetter = 0x0004, FlagAccent = 0x0010, FlagPunct = 0x0020, FlagSymbol = 0x0040;
    internal const ushort FlagCategories = 0x00FF, FlagWhitespace = 0x0100;

    private static readonly Lazy<ushort[]> Table = new(BuildTable);

    /// <summary>The regex of GPT-2 as llama.cpp writes it (no trailing <c>|\s+</c>).</summary>
    public const string Gpt2 = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)";
    /// <summary>The Llama 3 regex as llama.cpp adapts it.</summary>
    public const string Llama3 = @"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    private const string Llama3Original = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    /// <summary>The Qwen 2 regex as llama.cpp adapts it.</summary>
    public const string Qwen2 = @"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private readonly Step[] _steps;

    /// <summary>Compiles the regex list (the llama.cpp list for a <c>tokenizer.ggml.pre</c> name comes from <see cref="RegexesFor"/>).</summary>
    public LlamaPreTokenizer(IReadOnlyList<string> regexes)
    {
        Regexes = regexes.ToArray();
        _steps = Regexes.Select(Compile).ToArray();
    }

    /// <summary>The regexes, in the order they split.</summary>
    public IReadOnlyList<string> Regexes { get; }

    /// <summary>llama.cpp's flags for a codepoint (0 beyond U+10FFFF is "undefined", as llama.cpp answers).</summary>
    internal static ushort Flags(uint cpt) => cpt < 0x110000 ? Table.Value[cpt] : (ushort)0x0001;

    private static ushort[] BuildTable()
    {
        var t = new ushort[0x110000];
        var starts = LlamaUnicodeData.RangeStarts;
        var flags = LlamaUnicodeData.RangeFlags;
        for (int i = 1; i < starts.Length; i++)
            for (int c = starts[i - 1]; c < starts[i] && c < t.Length; c++) t[c] = flags[i - 1];
        foreach (int w in LlamaUnicodeData.Whitespace) t[w] |= FlagWhitespace;
        return t;
    }

    /// <summary>
    /// The regexes llama.cpp's BPE tokenizer uses for a pre-tokenizer name, and the settings the name implies;
    /// null for names this port does not support.
    /// </summary>
    public static string[]? RegexesFor(string? pre, out bool ignoreMerges, out bool defaultAddBos)
    {
        ignoreMerges = false;
        defaultAddBos = false;
        switch (pre ?? "default")
        {
            case "" or "default":
                return [@"[\p{P}\$\+<=>\^~\|]+", Gpt2, @"\p{N}+", "[0-9][0-9][0-9]"];
            case "llama3" or "llama-v3" or "llama-bpe" or "falcon3" or "falcon-h1" or "pixtral" or "midm-2.0" or "lfm2" or "jina-v5-nano":
                ignoreMerges = true;
                defaultAddBos = true;
                return [Llama3];
            case "dbrx" or "smaug-bpe" or "glm4" or "chatglm-bpe":
                return [Llama3];
            case "tekken":
                ignoreMerges = true;
                defaultAddBos = true;
                return [@"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}+| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"];
            case "deepseek-v3" or "hunyuan-dense" or "joyai-llm" or "hy_v4":
                return [@"\p{N}{1,3}", "[一-龥぀-ゟ゠-ヿ]+",
                    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"];
            case "deepseek-coder":
                return ["[\r\n]", @"\s?\p{L}+", @"\s?\p{P}+", "[一-龥ࠀ-一가-퟿]+", @"\p{N}"];
            case "falcon":
                return [@"[\p{P}\$\+<=>\^~\|`]+", Gpt2, "[0-9][0-9][0-9]"];
            case "starcoder" or "refact" or "command-r" or "smollm" or "codeshell" or "exaone" or "minerva-7b":
                return [@"\p{N}", Gpt2];
            case "gpt-2" or "phi-2" or "jina-es" or "jina-de" or "gigachat" or "jina-v2-es" or "jina-v2-de" or "a.x-4.0" or "mellum"
                or "modern-bert" or "mpt" or "olmo" or "jais" or "trillion" or "granite-docling" or "exaone4":
                return [Gpt2];
            case "qwen2" or "deepseek-r1-qwen" or "kormo" or "f2llmv2" or "megrez" or "stablelm2" or "hunyuan":
                return [Qwen2];
            case "poro-chat" or "bloom" or "gpt3-finnish":
                return [" ?[^(\\s|.,!?…。，、।۔،)]+"];
            case "viking":
                return [" ?[^(\\s|.,!?…。，、।۔،)]+", @"\p{N}"];
            default:
                return null;
        }
    }

    /// <summary>Splits codepoints into pieces; returns the piece lengths in codepoints.</summary>
    public List<int> Split(uint[] cpts)
    {
        var offsets = new List<int> { cpts.Length };
        string? collapsed = null, wide = null;
        foreach (var step in _steps)
        {
            offsets = step.Kind switch
            {
                StepKind.Gpt2 => SplitGpt2(cpts, offsets),
                StepKind.Llama3 => SplitLlama3(cpts, offsets, groupDigits: true),
                StepKind.Qwen2 => SplitLlama3(cpts, offsets, groupDigits: false),
                StepKind.Collapsed => SplitRegex(collapsed ??= Collapse(cpts), step.Regex!, offsets),
                _ => SplitRegex(wide ??= Widen(cpts), step.Regex!, offsets),
            };
        }
        return offsets;
    }

    private enum StepKind { Gpt2, Llama3, Qwen2, Collapsed, Wide }

    private sealed record Step(StepKind Kind, Regex? Regex);

    private static readonly (string Name, ushort Flag)[] Categories =
    [
        (@"\p{N}", FlagNumber), (@"\p{L}", FlagLetter), (@"\p{P}", FlagPunct), (@"\p{M}", FlagAccent), (@"\p{S}", FlagSymbol),
        (@"\p{Lu}", FlagLetter), (@"\p{Ll}", FlagLetter), (@"\p{Lt}", FlagLetter), (@"\p{Lm}", FlagLetter), (@"\p{Lo}", FlagLetter),
    ];

    // The character each category collapses to, and the ASCII members llama.cpp adds next to it in a class.
    private static char CollapsedChar(ushort flag) => flag switch
    {
        FlagNumber => '\u00D1', FlagLetter => '\u00D2', FlagPunct => '\u00D3', FlagAccent => '\u00D4', FlagSymbol => '\u00D5', _ => '\u00D0',
    };

    private static string AsciiMembers(ushort flag) => flag switch
    {
        FlagNumber => "0-9",
        FlagLetter => "A-Za-z",
        FlagPunct => "!-#%-*,-/:-;?-@\\[-\\]_\\{\\}",
        FlagSymbol => "\\$\\+<->^`\\|~",
        _ => "",
    };

    private static Step Compile(string regex)
    {
        if (regex == Gpt2) return new Step(StepKind.Gpt2, null);
        if (regex == Llama3 || regex == Llama3Original) return new Step(StepKind.Llama3, null);
        if (regex == Qwen2) return new Step(StepKind.Qwen2, null);
        bool collapsed = Categories.Any(c => regex.Contains(c.Name, StringComparison.Ordinal));
        if (!collapsed)
        {
            foreach (var r in regex.EnumerateRunes())
                if (r.Value > 0xFFFF) throw new NotSupportedException($"pre-tokenizer regex {regex} names characters beyond U+FFFF");
            return new Step(StepKind.Wide, new Regex(regex, RegexOptions.CultureInvariant));
        }
        foreach (char c in regex)
            if (c >= 128) throw new NotSupportedException($"pre-tokenizer regex {regex} mixes Unicode categories and non-ASCII characters (llama.cpp rejects it too)");
        // Rewrite \p{X} as [<category char><ASCII members>] (inside a class: without the brackets), as llama.cpp does.
        var sb = new StringBuilder();
        bool inside = false;
        for (int i = 0; i < regex.Length; i++)
        {
            if (regex[i] == '[' && (i == 0 || regex[i - 1] != '\\')) { sb.Append('['); inside = true; continue; }
            if (inside && regex[i] == ']' && regex[i - 1] != '\\') { sb.Append(']'); inside = false; continue; }
            if (regex[i] == '\\' && i + 3 < regex.Length && regex[i + 1] == 'p' && regex[i + 2] == '{')
            {
                int close = regex.IndexOf('}', i + 3);
                if (close >= 0 && close <= i + 10)
                {
                    string pat = regex.Substring(i, close - i + 1);
                    var cat = Categories.FirstOrDefault(c => c.Name == pat);
                    if (cat.Name != null)
                    {
                        if (!inside) sb.Append('[');
                        sb.Append(CollapsedChar(cat.Flag)).Append(AsciiMembers(cat.Flag));
                        if (!inside) sb.Append(']');
                        i = close;
                        continue;
                    }
                }
            }
            sb.Append(regex[i]);
        }
        return new Step(StepKind.Collapsed, new Regex(sb.ToString(), RegexOptions.CultureInvariant));
    }

    // One char per codepoint: ASCII as is, whitespace as \v, other codepoints as their category's byte.
    private static string Collapse(ReadOnlySpan<uint> cpts)
    {
        var chars = new char[cpts.Length];
        for (int i = 0; i < cpts.Length; i++)
        {
            uint c = cpts[i];
            if (c < 128) { chars[i] = (char)c; continue; }
            ushort f = Flags(c);
            chars[i] = (f & FlagWhitespace) != 0 ? '\v' : CollapsedChar((ushort)(f & FlagCategories));
        }
        return new string(chars);
    }

    // One char per codepoint for regexes without categories: non-ASCII whitespace as \v (std::wregex's \s is ASCII),
    // codepoints beyond the BMP as U+FFFF (such regexes name only BMP characters, checked at compile time).
    private static string Widen(ReadOnlySpan<uint> cpts)
    {
        var chars = new char[cpts.Length];
        for (int i = 0; i < cpts.Length; i++)
        {
            uint c = cpts[i];
            chars[i] = c > 0x7F && (Flags(c) & FlagWhitespace) != 0 ? '\v' : c > 0xFFFF ? '\uFFFF' : (char)c;
        }
        return new string(chars);
    }

    // std::regex_iterator over each piece: matches become pieces, and so do the gaps between them.
    private static List<int> SplitRegex(string text, Regex regex, List<int> offsets)
    {
        var result = new List<int>(offsets.Count);
        int start = 0;
        foreach (int offset in offsets)
        {
            string piece = text.Substring(start, offset);
            int prev = 0;
            for (var m = regex.Match(piece); m.Success; m = m.NextMatch())
            {
                if (m.Length == 0) continue;
                if (m.Index > prev) result.Add(m.Index - prev);
                result.Add(m.Length);
                prev = m.Index + m.Length;
            }
            if (prev < offset) result.Add(offset - prev);
            start += offset;
        }
        return result;
    }

    private static List<int> SplitGpt2(uint[] cpts, List<int> offsets)
    {
        var result = new List<int>(offsets.Count);
        int start = 0;
        foreach (int offset in offsets)
        {
            int ini = start, end = start + offset;
            start = end;
            int prevEnd = ini;
            uint Cpt(int p) => ini <= p && p < end ? cpts[p] : OutOfRange;
            ushort Fl(int p) => ini <= p && p < end ? Flags(cpts[p]) : (ushort)0;
            int Add(int e)
            {
                int len = e - prevEnd;
                if (len > 0) result.Add(len);
                prevEnd = e;
                return len;
            }
            for (int pos = ini; pos < end;)
            {
                uint cpt = Cpt(pos);
                ushort flags = Fl(pos);
                if (cpt == '\'' && pos + 1 < end)
                {
                    uint next = Cpt(pos + 1);
                    if (next is 's' or 't' or 'm' or 'd') { pos += Add(pos + 2); continue; }
                    if (pos + 2 < end)
                    {
                        uint nn = Cpt(pos + 2);
                        if ((next == 'r' && nn == 'e') || (next == 'v' && nn == 'e') || (next == 'l' && nn == 'l')) { pos += Add(pos + 3); continue; }
                    }
                }
                ushort f2 = cpt == ' ' ? Fl(pos + 1) : flags;
                if ((f2 & FlagLetter) != 0)
                {
                    if (cpt == ' ') pos++;
                    while ((f2 & FlagLetter) != 0) f2 = Fl(++pos);
                    Add(pos);
                    continue;
                }
                if ((f2 & FlagNumber) != 0)
                {
                    if (cpt == ' ') pos++;
                    while ((f2 & FlagNumber) != 0) f2 = Fl(++pos);
                    Add(pos);
                    continue;
                }
                if (IsOther(f2))
                {
                    if (cpt == ' ') pos++;
                    while (IsOther(f2)) f2 = Fl(++pos);
                    Add(pos);
                    continue;
                }
                int ws = 0;
                while ((Fl(pos + ws) & FlagWhitespace) != 0) ws++;
                if (ws > 1 && Cpt(pos + ws) != OutOfRange) { pos += ws - 1; Add(pos); continue; }
                if (ws > 0) { pos += ws; Add(pos); continue; }
                Add(++pos);
            }
        }
        return result;
    }

    // [^\s\p{L}\p{N}] for an in-range codepoint (flags 0 means past the piece's end).
    private static bool IsOther(ushort f) => (f & (FlagWhitespace | FlagLetter | FlagNumber)) == 0 && f != 0;

    private static uint ToLowerAscii(uint c) => c is >= 'A' and <= 'Z' ? c + 32 : c;

    private static List<int> SplitLlama3(uint[] cpts, List<int> offsets, bool groupDigits)
    {
        var result = new List<int>(offsets.Count);
        int start = 0;
        foreach (int offset in offsets)
        {
            int ini = start, end = start + offset;
            start = end;
            int prevEnd = ini;
            uint Cpt(int p) => ini <= p && p < end ? cpts[p] : OutOfRange;
            ushort Fl(int p) => ini <= p && p < end ? Flags(cpts[p]) : (ushort)0;
            int Add(int e)
            {
                int len = e - prevEnd;
                if (len > 0) result.Add(len);
                prevEnd = e;
                return len;
            }
            for (int pos = ini; pos < end;)
            {
                uint cpt = Cpt(pos);
                ushort flags = Fl(pos);
                if (cpt == '\'' && pos + 1 < end)
                {
                    uint next = ToLowerAscii(Cpt(pos + 1));
                    if (next is 's' or 't' or 'm' or 'd') { pos += Add(pos + 2); continue; }
                    if (pos + 2 < end)
                    {
                        uint nn = ToLowerAscii(Cpt(pos + 2));
                        if ((next == 'r' && nn == 'e') || (next == 'v' && nn == 'e') || (next == 'l' && nn == 'l')) { pos += Add(pos + 3); continue; }
                    }
                }
                // [^\r\n\p{L}\p{N}]?\p{L}+
                if (!(cpt == '\r' || cpt == '\n' || (flags & FlagNumber) != 0))
                {
                    if ((flags & FlagLetter) != 0 || (Fl(pos + 1) & FlagLetter) != 0)
                    {
                        pos++;
                        while ((Fl(pos) & FlagLetter) != 0) pos++;
                        Add(pos);
                        continue;
                    }
                }
                // \p{N}{1,3} or \p{N}
                if ((flags & FlagNumber) != 0)
                {
                    if (groupDigits)
                    {
                        int first = pos;
                        while ((Fl(pos) & FlagNumber) != 0)
                        {
                            if (++pos - first >= 3) { Add(pos); first = pos; }
                        }
                    }
                    else pos++;
                    Add(pos);
                    continue;
                }
                // <space>?[^\s\p{L}\p{N}]+[\r\n]*
                ushort f2 = cpt == ' ' ? Fl(pos + 1) : flags;
                if ((f2 & (FlagWhitespace | FlagLetter | FlagNumber)) == 0 && flags != 0)
                {
                    if (cpt == ' ') pos++;
                    while (IsOther(f2)) f2 = Fl(++pos);
                    uint c2 = Cpt(pos);
                    while (c2 == '\r' || c2 == '\n') c2 = Cpt(++pos);
                    Add(pos);
                    continue;
                }
                int ws = 0, lastNewlineEnd = 0;
                while ((Fl(pos + ws) & FlagWhitespace) != 0)
                {
                    uint c2 = Cpt(pos + ws);
                    if (c2 == '\r' || c2 == '\n') lastNewlineEnd = pos + ws + 1;
                    ws++;
                }
                if (lastNewlineEnd > 0) { pos = lastNewlineEnd; Add(pos); continue; }
                if (ws > 1 && Cpt(pos + ws) != OutOfRange) { pos += ws - 1; Add(pos); continue; }
                if (ws > 0) { pos += ws; Add(pos); continue; }
                Add(++pos);
            }
        }
        return result;
    }
}
