using System.Globalization;
using System.Text;

namespace Loom.Text.Chat.Jinja;

/// <summary>Python's str semantics the templates rely on: whitespace (str.isspace), strip, split, title.</summary>
internal static class PyString
{
    /// <summary>str.isspace for one UTF-16 unit: .NET whitespace plus the ASCII separators \x1c-\x1f.</summary>
    public static bool IsSpace(char c) => char.IsWhiteSpace(c) || (c >= '\x1c' && c <= '\x1f');

    public static string Strip(string s, string? chars = null) => RStrip(LStrip(s, chars), chars);

    public static string LStrip(string s, string? chars = null)
    {
        int i = 0;
        while (i < s.Length && (chars is null ? IsSpace(s[i]) : chars.Contains(s[i]))) i++;
        return s[i..];
    }

    public static string RStrip(string s, string? chars = null)
    {
        int j = s.Length;
        while (j > 0 && (chars is null ? IsSpace(s[j - 1]) : chars.Contains(s[j - 1]))) j--;
        return s[..j];
    }

    /// <summary>str.split(sep=None, maxsplit=-1).</summary>
    public static List<object?> Split(string s, string? sep, long maxSplit)
    {
        var parts = new List<object?>();
        if (sep is null)
        {
            int i = 0;
            while (true)
            {
                while (i < s.Length && IsSpace(s[i])) i++;
                if (i >= s.Length) break;
                if (maxSplit >= 0 && parts.Count == maxSplit)
                {
                    parts.Add(RStrip(s[i..]));
                    break;
                }
                int j = i;
                while (j < s.Length && !IsSpace(s[j])) j++;
                parts.Add(s[i..j]);
                i = j;
            }
            return parts;
        }
        if (sep.Length == 0) throw new ChatTemplateException("split: empty separator");
        int start = 0;
        while (maxSplit < 0 || parts.Count < maxSplit)
        {
            int k = s.IndexOf(sep, start, StringComparison.Ordinal);
            if (k < 0) break;
            parts.Add(s[start..k]);
            start = k + sep.Length;
        }
        parts.Add(s[start..]);
        return parts;
    }

    /// <summary>str.replace(old, new, count=-1).</summary>
    public static string Replace(string s, string oldValue, string newValue, long count = -1)
    {
        if (count < 0)
        {
            if (oldValue.Length > 0) return s.Replace(oldValue, newValue, StringComparison.Ordinal);
            count = long.MaxValue;
        }
        var sb = new StringBuilder();
        int pos = 0;
        long done = 0;
        if (oldValue.Length == 0)
        {
            for (int i = 0; i <= s.Length; i++)
            {
                if (done < count) { sb.Append(newValue); done++; }
                if (i < s.Length) sb.Append(s[i]);
            }
            return sb.ToString();
        }
        while (done < count)
        {
            int k = s.IndexOf(oldValue, pos, StringComparison.Ordinal);
            if (k < 0) break;
            sb.Append(s, pos, k - pos).Append(newValue);
            pos = k + oldValue.Length;
            done++;
        }
        return sb.Append(s, pos, s.Length - pos).ToString();
    }

    /// <summary>str.title(): upper-case the first cased character after an uncased one, lower-case the rest.</summary>
    public static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool prevCased = false;
        foreach (char c in s)
        {
            bool cased = char.IsUpper(c) || char.IsLower(c) || CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.TitlecaseLetter;
            sb.Append(cased ? (prevCased ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c)) : c);
            prevCased = cased;
        }
        return sb.ToString();
    }

    /// <summary>str.upper(): invariant upper case plus the full mapping of 'ß' to "SS".</summary>
    public static string Upper(string s) => s.ToUpperInvariant().Replace("ß", "SS", StringComparison.Ordinal);

    /// <summary>str.capitalize(): first character upper, the rest lower.</summary>
    public static string Capitalize(string s) =>
        s.Length == 0 ? s : Upper(s[..1]) + s[1..].ToLowerInvariant();
}
