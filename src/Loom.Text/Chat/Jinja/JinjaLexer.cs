using System.Globalization;
using System.Text;

namespace Loom.Text.Chat.Jinja;

/// <summary>Kinds of lexical token in a Jinja template.</summary>
internal enum TokenKind
{
    Text, VarBegin, VarEnd, BlockBegin, BlockEnd,
    Name, String, Integer, Float, Operator, Eof,
}

/// <summary>One lexical token with the 1-based line it starts on.</summary>
internal readonly record struct Token(TokenKind Kind, string Value, int Line)
{
    public bool Is(TokenKind kind, string value) => Kind == kind && Value == value;

    public override string ToString() => Kind switch
    {
        TokenKind.Eof => "end of template",
        TokenKind.VarEnd => "'}}'",
        TokenKind.BlockEnd => "'%}'",
        TokenKind.Text => "template text",
        _ => $"'{Value}'",
    };
}

/// <summary>
/// Splits a template into text and tag tokens the way Jinja2's lexer does with HF transformers' settings
/// (trim_blocks, lstrip_blocks, no kept trailing newline), including '-' / '+' whitespace control and raw blocks.
/// </summary>
internal sealed class JinjaLexer
{
    private static readonly string[] Operators =
        ["//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=", "|", ".", ",", ":", "(", ")", "[", "]", "{", "}"];

    private readonly string _src;
    private readonly List<Token> _tokens = [];
    private int _pos;
    private int _line = 1;
    private bool _lineStarting = true;

    private JinjaLexer(string source) => _src = Normalize(source);

    public static List<Token> Tokenize(string source)
    {
        var lexer = new JinjaLexer(source);
        lexer.Run();
        return lexer._tokens;
    }

    /// <summary>Newlines become '\n' and one trailing newline is dropped (Jinja's keep_trailing_newline=False).</summary>
    private static string Normalize(string source)
    {
        string s = source.Replace("\r\n", "\n").Replace('\r', '\n');
        return s.EndsWith('\n') ? s[..^1] : s;
    }

    private void Run()
    {
        while (_pos < _src.Length)
        {
            int tag = FindTagStart(_pos);
            if (tag < 0)
            {
                EmitText(_src[_pos..]);
                break;
            }
            char kind = _src[tag + 1];
            char sign = tag + 2 < _src.Length && (_src[tag + 2] == '-' || _src[tag + 2] == '+') ? _src[tag + 2] : '\0';
            string text = _src[_pos..tag];
            if (sign == '-') text = PyString.RStrip(text);
            else if (sign != '+' && kind != '{') text = LStripBlock(text);
            EmitText(text);
            _pos = tag + 2 + (sign != '\0' ? 1 : 0);
            if (kind == '#') LexComment();
            else if (kind == '%' && TryLexRaw()) { }
            else LexTag(kind == '{');
        }
        _tokens.Add(new Token(TokenKind.Eof, "", _line));
    }

    private int FindTagStart(int from)
    {
        for (int i = from; i + 1 < _src.Length; i++)
            if (_src[i] == '{' && (_src[i + 1] == '{' || _src[i + 1] == '%' || _src[i + 1] == '#')) return i;
        return -1;
    }

    /// <summary>lstrip_blocks: drop spaces and tabs between the start of a line and a block or comment tag.</summary>
    private string LStripBlock(string text)
    {
        int lineStart = text.LastIndexOf('\n') + 1;
        if (lineStart == 0 && !_lineStarting) return text;
        if (lineStart == text.Length) return text;
        for (int i = lineStart; i < text.Length; i++)
            if (!PyString.IsSpace(text[i])) return text;
        return text[..lineStart];
    }

    private void EmitText(string text)
    {
        if (text.Length > 0) _tokens.Add(new Token(TokenKind.Text, text, _line));
        _line += Count(text, '\n');
    }

    private static int Count(string s, char c)
    {
        int n = 0;
        foreach (char ch in s) if (ch == c) n++;
        return n;
    }

    private void Advance(int to)
    {
        for (int i = _pos; i < to; i++) if (_src[i] == '\n') _line++;
        _pos = to;
    }

    /// <summary>After a block or comment end: '-' eats all following whitespace, '+' nothing, plain trims one newline.</summary>
    private void AfterBlockEnd(char sign)
    {
        int p = _pos;
        if (sign == '-') while (p < _src.Length && PyString.IsSpace(_src[p])) p++;
        else if (sign != '+' && p < _src.Length && _src[p] == '\n') p++;
        _lineStarting = p > _pos && _src[p - 1] == '\n';
        Advance(p);
    }

    private void LexComment()
    {
        int startLine = _line;
        int end = _src.IndexOf("#}", _pos, StringComparison.Ordinal);
        if (end < 0) throw new ChatTemplateException("missing end of comment tag '#}'", startLine);
        char sign = end > _pos && (_src[end - 1] == '-' || _src[end - 1] == '+') ? _src[end - 1] : '\0';
        Advance(end + 2);
        AfterBlockEnd(sign);
    }

    /// <summary>{% raw %}...{% endraw %}: the body is text, not parsed.</summary>
    private bool TryLexRaw()
    {
        int p = SkipSpace(_pos);
        if (string.CompareOrdinal(_src, p, "raw", 0, 3) != 0) return false;
        p = SkipSpace(p + 3);
        char sign = '\0';
        if (p < _src.Length && _src[p] == '-') { sign = '-'; p++; }
        if (string.CompareOrdinal(_src, p, "%}", 0, 2) != 0) return false;
        Advance(p + 2);
        if (sign == '-') Advance(SkipSpace(_pos));
        int search = _pos;
        while (true)
        {
            int tag = _src.IndexOf("{%", search, StringComparison.Ordinal);
            if (tag < 0) throw new ChatTemplateException("missing end of raw directive '{% endraw %}'", _line);
            int q = tag + 2;
            char startSign = q < _src.Length && (_src[q] == '-' || _src[q] == '+') ? _src[q++] : '\0';
            q = SkipSpace(q);
            if (string.CompareOrdinal(_src, q, "endraw", 0, 6) == 0)
            {
                q = SkipSpace(q + 6);
                char endSign = q < _src.Length && (_src[q] == '-' || _src[q] == '+') ? _src[q++] : '\0';
                if (string.CompareOrdinal(_src, q, "%}", 0, 2) == 0)
                {
                    string body = _src[_pos..tag];
                    if (startSign == '-') body = PyString.RStrip(body);
                    else if (startSign != '+') body = LStripBlock(body);
                    EmitText(body);
                    _pos = tag;
                    Advance(q + 2);
                    AfterBlockEnd(endSign);
                    return true;
                }
            }
            search = tag + 2;
        }
    }

    private int SkipSpace(int p)
    {
        while (p < _src.Length && PyString.IsSpace(_src[p])) p++;
        return p;
    }

    private void LexTag(bool isVariable)
    {
        int startLine = _line;
        _tokens.Add(new Token(isVariable ? TokenKind.VarBegin : TokenKind.BlockBegin, "", _line));
        int depth = 0;
        while (true)
        {
            Advance(SkipSpace(_pos));
            if (_pos >= _src.Length)
                throw new ChatTemplateException($"unexpected end of template: the tag opened on line {startLine} is not closed", startLine);
            if (depth == 0 && TryTagEnd(isVariable)) return;
            char c = _src[_pos];
            if (char.IsAsciiDigit(c)) LexNumber();
            else if (c == '_' || char.IsLetter(c)) LexName();
            else if (c == '\'' || c == '"') LexString(c);
            else
            {
                string? op = null;
                foreach (string o in Operators)
                    if (string.CompareOrdinal(_src, _pos, o, 0, o.Length) == 0) { op = o; break; }
                if (op is null) throw new ChatTemplateException($"unexpected character '{c}'", _line);
                if (op is "(" or "[" or "{") depth++;
                else if (op is ")" or "]" or "}")
                {
                    if (depth == 0) throw new ChatTemplateException($"unexpected '{op}'", _line);
                    depth--;
                }
                _tokens.Add(new Token(TokenKind.Operator, op, _line));
                _pos += op.Length;
            }
        }
    }

    private bool TryTagEnd(bool isVariable)
    {
        string close = isVariable ? "}}" : "%}";
        char sign = '\0';
        int p = _pos;
        if (_src[p] == '-' || (_src[p] == '+' && !isVariable))
        {
            if (string.CompareOrdinal(_src, p + 1, close, 0, 2) != 0) return false;
            sign = _src[p];
            p++;
        }
        else if (string.CompareOrdinal(_src, p, close, 0, 2) != 0) return false;
        _tokens.Add(new Token(isVariable ? TokenKind.VarEnd : TokenKind.BlockEnd, "", _line));
        Advance(p + 2);
        if (isVariable)
        {
            if (sign == '-') Advance(SkipSpace(_pos));
            _lineStarting = _pos > 0 && _src[_pos - 1] == '\n' && sign == '-';
        }
        else AfterBlockEnd(sign);
        return true;
    }

    private void LexNumber()
    {
        int start = _pos, p = _pos;
        while (p < _src.Length && (char.IsAsciiDigit(_src[p]) || _src[p] == '_')) p++;
        bool isFloat = false;
        if (p + 1 < _src.Length && _src[p] == '.' && char.IsAsciiDigit(_src[p + 1]))
        {
            isFloat = true;
            p++;
            while (p < _src.Length && (char.IsAsciiDigit(_src[p]) || _src[p] == '_')) p++;
        }
        if (p < _src.Length && (_src[p] == 'e' || _src[p] == 'E'))
        {
            int q = p + 1;
            if (q < _src.Length && (_src[q] == '+' || _src[q] == '-')) q++;
            if (q < _src.Length && char.IsAsciiDigit(_src[q]))
            {
                isFloat = true;
                p = q;
                while (p < _src.Length && char.IsAsciiDigit(_src[p])) p++;
            }
        }
        string text = _src[start..p].Replace("_", "");
        _tokens.Add(new Token(isFloat ? TokenKind.Float : TokenKind.Integer, text, _line));
        _pos = p;
    }

    private void LexName()
    {
        int p = _pos;
        while (p < _src.Length && (_src[p] == '_' || char.IsLetterOrDigit(_src[p]))) p++;
        _tokens.Add(new Token(TokenKind.Name, _src[_pos..p], _line));
        _pos = p;
    }

    private void LexString(char quote)
    {
        int line = _line;
        var sb = new StringBuilder();
        int p = _pos + 1;
        while (true)
        {
            if (p >= _src.Length) throw new ChatTemplateException("unterminated string literal", line);
            char c = _src[p];
            if (c == quote) break;
            if (c != '\\') { sb.Append(c); p++; continue; }
            if (p + 1 >= _src.Length) throw new ChatTemplateException("unterminated string literal", line);
            p = Unescape(p + 1, sb);
        }
        _tokens.Add(new Token(TokenKind.String, sb.ToString(), line));
        Advance(p + 1);
    }

    /// <summary>Python's backslash escapes (the unicode-escape codec); unknown escapes keep the backslash.</summary>
    private int Unescape(int p, StringBuilder sb)
    {
        char e = _src[p];
        switch (e)
        {
            case '\n': return p + 1;
            case '\\': sb.Append('\\'); return p + 1;
            case '\'': sb.Append('\''); return p + 1;
            case '"': sb.Append('"'); return p + 1;
            case 'a': sb.Append('\a'); return p + 1;
            case 'b': sb.Append('\b'); return p + 1;
            case 'f': sb.Append('\f'); return p + 1;
            case 'n': sb.Append('\n'); return p + 1;
            case 'r': sb.Append('\r'); return p + 1;
            case 't': sb.Append('\t'); return p + 1;
            case 'v': sb.Append('\v'); return p + 1;
            case 'x': return Hex(p + 1, 2, sb);
            case 'u': return Hex(p + 1, 4, sb);
            case 'U': return Hex(p + 1, 8, sb);
        }
        if (e >= '0' && e <= '7')
        {
            int v = 0, q = p;
            while (q < _src.Length && q < p + 3 && _src[q] >= '0' && _src[q] <= '7') v = v * 8 + (_src[q++] - '0');
            sb.Append((char)v);
            return q;
        }
        sb.Append('\\').Append(e);
        return p + 1;
    }

    private int Hex(int p, int digits, StringBuilder sb)
    {
        if (p + digits > _src.Length || !int.TryParse(_src.AsSpan(p, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int v))
            throw new ChatTemplateException("truncated \\x, \\u or \\U escape in string literal", _line);
        if (v <= 0xFFFF) sb.Append((char)v); // lone surrogates are legal in Python strings
        else if (v <= 0x10FFFF) sb.Append(char.ConvertFromUtf32(v));
        else throw new ChatTemplateException($"\\U{v:x8} is not a valid code point", _line);
        return p + digits;
    }
}
