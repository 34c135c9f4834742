using System.Globalization;
using System.Text;

namespace Loom.Text.Chat.Jinja;

/// <summary>Python's json.dumps as HF transformers' tojson filter calls it (ensure_ascii=False by default,
/// optional indent, separators and sort_keys), so tool schemas print byte-for-byte as in Python.</summary>
internal static class JinjaJson
{
    public static string Dumps(object? value, string? indent, string? itemSeparator, string? keySeparator, bool sortKeys, bool ensureAscii)
    {
        itemSeparator ??= indent is null ? ", " : ",";
        keySeparator ??= ": ";
        var sb = new StringBuilder();
        Write(sb, value, indent, itemSeparator, keySeparator, sortKeys, ensureAscii, 0);
        return sb.ToString();
    }

    private static void Write(StringBuilder sb, object? v, string? indent, string itemSep, string keySep, bool sortKeys, bool ascii, int level)
    {
        if (level > Py.MaxNesting) throw new ChatTemplateException($"tojson: value nested deeper than {Py.MaxNesting} levels");
        switch (v)
        {
            case null: sb.Append("null"); return;
            case bool b: sb.Append(b ? "true" : "false"); return;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); return;
            case double d:
                sb.Append(double.IsNaN(d) ? "NaN" : double.IsPositiveInfinity(d) ? "Infinity" : double.IsNegativeInfinity(d) ? "-Infinity" : Py.FloatRepr(d));
                return;
            case string s: WriteString(sb, s, ascii); return;
            case Markup mk: WriteString(sb, mk.Value, ascii); return;
            case PyGenerator: throw new ChatTemplateException("tojson: Object of type generator is not JSON serializable (add '| list')");
            case List<object?> list:
                if (list.Count == 0) { sb.Append("[]"); return; }
                sb.Append('[');
                for (int i = 0; i < list.Count; i++)
                {
                    if (i > 0) sb.Append(itemSep);
                    NewLine(sb, indent, level + 1);
                    Write(sb, list[i], indent, itemSep, keySep, sortKeys, ascii, level + 1);
                }
                NewLine(sb, indent, level);
                sb.Append(']');
                return;
            case PyDict dict:
                if (dict.Count == 0) { sb.Append("{}"); return; }
                sb.Append('{');
                IEnumerable<KeyValuePair<object, object?>> entries = sortKeys ? dict.OrderBy(kv => KeyString(kv.Key), StringComparer.Ordinal) : dict;
                bool first = true;
                foreach (var kv in entries)
                {
                    if (!first) sb.Append(itemSep);
                    first = false;
                    NewLine(sb, indent, level + 1);
                    WriteString(sb, KeyString(kv.Key), ascii);
                    sb.Append(keySep);
                    Write(sb, kv.Value, indent, itemSep, keySep, sortKeys, ascii, level + 1);
                }
                NewLine(sb, indent, level);
                sb.Append('}');
                return;
            default:
                throw new ChatTemplateException($"tojson: object of type {Py.TypeName(v)} is not JSON serializable");
        }
    }

    /// <summary>json.dumps turns non-string keys into strings: 1 -> "1", True -> "true", None -> "null".</summary>
    private static string KeyString(object key) => key switch
    {
        string s => s,
        bool b => b ? "true" : "false",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => Py.FloatRepr(d),
        _ => throw new ChatTemplateException($"tojson: keys must be str, int, float or bool, not {Py.TypeName(key)}"),
    };

    private static void NewLine(StringBuilder sb, string? indent, int level)
    {
        if (indent is null) return;
        sb.Append('\n');
        for (int i = 0; i < level; i++) sb.Append(indent);
    }

    private static void WriteString(StringBuilder sb, string s, bool ascii)
    {
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20 || (ascii && c > 0x7e)) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }
}
