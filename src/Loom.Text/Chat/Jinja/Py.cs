using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Loom.Text.Chat.Jinja;

/// <summary>Python-like operations over the values templates see: null (None), Undefined, bool, long, double, string,
/// List&lt;object?&gt; (list; PyTuple, PyGenerator), PyDict (dict), Markup, JinjaNamespace, LoopContext, JinjaCallable.</summary>
internal static class Py
{
    /// <summary>Converts caller-supplied .NET values (records, dictionaries, lists, JSON) into template values.</summary>
    public static object? FromDotNet(object? v) => v switch
    {
        null => null,
        string or bool or long or double or Undefined or JinjaNamespace or JinjaCallable => v,
        int i => (long)i,
        short s => (long)s,
        byte b => (long)b,
        uint u => (long)u,
        float f => (double)f,
        decimal m => (double)m,
        char c => c.ToString(),
        JsonElement e => FromJson(e),
        ChatMessage m => new PyDict { ["role"] = m.Role, ["content"] = m.Content },
        Markup or PyDict or PyTuple or PyGenerator => v,
        IDictionary<string, object?> d => new PyDict(d.Select(kv => new KeyValuePair<object, object?>(kv.Key, FromDotNet(kv.Value)))),
        IReadOnlyDictionary<string, object?> d => new PyDict(d.Select(kv => new KeyValuePair<object, object?>(kv.Key, FromDotNet(kv.Value)))),
        IDictionary d => ConvertDictionary(d),
        IEnumerable e => e.Cast<object?>().Select(FromDotNet).ToList(),
        _ => throw new ChatTemplateException($"values of type {v.GetType().Name} cannot be passed to a chat template"),
    };

    private static PyDict ConvertDictionary(IDictionary d)
    {
        var r = new PyDict();
        foreach (DictionaryEntry kv in d) r[FromDotNet(kv.Key) ?? throw new ChatTemplateException("dictionary keys cannot be null")] = FromDotNet(kv.Value);
        return r;
    }

    public static object? FromJson(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => new PyDict(e.EnumerateObject().Select(p => new KeyValuePair<object, object?>(p.Name, FromJson(p.Value)))),
        JsonValueKind.Array => e.EnumerateArray().Select(FromJson).ToList(),
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Number => e.TryGetInt64(out long l) ? (object)l : e.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };

    public static bool Truthy(object? v) => v switch
    {
        null or Undefined => false,
        PyGenerator => true,
        Markup m => m.Value.Length > 0,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> l => l.Count > 0,
        PyDict d => d.Count > 0,
        _ => true,
    };

    public static string TypeName(object? v) => v switch
    {
        null => "NoneType",
        Undefined => "Undefined",
        bool => "bool",
        long => "int",
        double => "float",
        string or Markup => "str",
        PyTuple => "tuple",
        PyGenerator => "generator",
        List<object?> => "list",
        PyDict => "dict",
        JinjaNamespace => "Namespace",
        JinjaCallable => "function",
        LoopContext => "LoopContext",
        _ => v.GetType().Name,
    };

    public static bool IsNumber(object? v) => v is long or double || v is bool;

    public static double ToDouble(object? v) => v switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new ChatTemplateException($"expected a number, got {TypeName(v)}"),
    };

    /// <summary>Python str(): what {{ value }} prints.</summary>
    public static string Str(object? v) => v switch
    {
        string s => s,
        Markup m => m.Value,
        Undefined => "",
        _ => Repr(v),
    };

    [ThreadStatic] private static HashSet<object>? ReprActive;

    /// <summary>Python repr(), used for list and dict elements when printed.</summary>
    /// <summary>Values nested deeper than this (only a template can build them) are refused rather than recursed into.</summary>
    public const int MaxNesting = 500;

    [ThreadStatic] private static int _nesting;

    private readonly struct Nesting : IDisposable
    {
        public Nesting(string what)
        {
            if (++_nesting > MaxNesting)
            {
                _nesting = 0;
                throw new ChatTemplateException($"{what}: value nested deeper than {MaxNesting} levels");
            }
        }

        public void Dispose() => _nesting = Math.Max(0, _nesting - 1);
    }

    public static string Repr(object? v)
    {
        using var guard = new Nesting("printing");
        switch (v)
        {
            case null: return "None";
            case Undefined: return "";
            case bool b: return b ? "True" : "False";
            case long l: return l.ToString(CultureInfo.InvariantCulture);
            case double d: return FloatRepr(d);
            case string s: return StringRepr(s);
            case Markup mk: return "Markup(" + StringRepr(mk.Value) + ")";
            case PyGenerator: return "<generator object>";
            case PyTuple t: return "(" + string.Join(", ", t.Select(Repr)) + (t.Count == 1 ? ",)" : ")");
            case List<object?> list: return "[" + string.Join(", ", list.Select(Repr)) + "]";
            case PyDict dict:
                return "{" + string.Join(", ", dict.Select(kv => Repr(kv.Key) + ": " + Repr(kv.Value))) + "}";
            case JinjaNamespace ns:
                // A namespace can contain itself ({% set ns.me = ns %}); print the inner one as Python's reprlib does.
                ReprActive ??= new HashSet<object>(ReferenceEqualityComparer.Instance);
                if (!ReprActive.Add(ns) || ReprActive.Count > 64) return "<Namespace ...>";
                try { return "<Namespace " + string.Join(", ", ns.Attributes.Select(kv => kv.Key + "=" + Repr(kv.Value))) + ">"; }
                finally { ReprActive.Remove(ns); }
            default: return $"<{TypeName(v)}>";
        }
    }

    /// <summary>Python's float repr: shortest round-trip digits, ".0" on integral values, exponent form outside [1e-4, 1e16).</summary>
    public static string FloatRepr(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsPositiveInfinity(d)) return "inf";
        if (double.IsNegativeInfinity(d)) return "-inf";
        if (d == 0) return double.IsNegative(d) ? "-0.0" : "0.0";
        // Shortest round-trip digits and decimal point position, then Python's layout (repr switches to
        // exponent form below 1e-4 and from 1e16).
        string r = Math.Abs(d).ToString("R", CultureInfo.InvariantCulture);
        int ePos = r.IndexOfAny(['E', 'e']);
        int exp10 = ePos >= 0 ? int.Parse(r.AsSpan(ePos + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture) : 0;
        string m = ePos >= 0 ? r[..ePos] : r;
        int dot = m.IndexOf('.');
        string digits = dot >= 0 ? m.Remove(dot, 1) : m;
        int point = (dot >= 0 ? dot : m.Length) + exp10;
        int lead = 0;
        while (lead < digits.Length - 1 && digits[lead] == '0') lead++;
        digits = digits[lead..].TrimEnd('0');
        point -= lead;
        if (digits.Length == 0) digits = "0";
        int x = point - 1;
        string sign = d < 0 ? "-" : "";
        if (x >= -4 && x < 16)
        {
            if (point <= 0) return sign + "0." + new string('0', -point) + digits;
            if (point >= digits.Length) return sign + digits + new string('0', point - digits.Length) + ".0";
            return sign + digits[..point] + "." + digits[point..];
        }
        return sign + digits[0] + (digits.Length > 1 ? "." + digits[1..] : "") + "e" + (x < 0 ? "-" : "+") + Math.Abs(x).ToString("00", CultureInfo.InvariantCulture);
    }

    public static string StringRepr(string s)
    {
        char quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        var sb = new StringBuilder().Append(quote);
        foreach (char c in s)
        {
            switch (c)
            {
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c == quote) sb.Append('\\').Append(c);
                    else if (c < 0x20 || c == 0x7f) sb.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append(quote).ToString();
    }

    /// <summary>Python ==: numbers by value (True == 1), sequences and dicts element-wise; Undefined equals only Undefined.</summary>
    /// <summary>A value usable as a dict key (str, int, float, bool); lists, dicts, None and Undefined are not.</summary>
    public static object HashKey(object? key) => Plain(key) switch
    {
        string or long or double or bool => Plain(key)!,
        PyTuple t when t.All(x => x is string or long or double or bool) => Repr(t),
        var k => throw new ChatTemplateException($"unhashable dict key of type '{TypeName(k)}'"),
    };

    /// <summary>Markup behaves as the string it holds everywhere except '+' and printing.</summary>
    public static object? Plain(object? v) => v is Markup m ? m.Value : v;

    public static bool Equal(object? a, object? b)
    {
        using var guard = new Nesting("comparing");
        a = Plain(a);
        b = Plain(b);
        if (a is null || b is null) return a is null && b is null;
        if (a is Undefined || b is Undefined) return a is Undefined && b is Undefined;
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is double || b is double) return ToDouble(a) == ToDouble(b);
            return ToLong(a) == ToLong(b);
        }
        if (a is string sa && b is string sb) return sa == sb;
        if (a is List<object?> la && b is List<object?> lb)
        {
            if (la.Count != lb.Count) return false;
            for (int i = 0; i < la.Count; i++) if (!Equal(la[i], lb[i])) return false;
            return true;
        }
        if (a is PyDict da && b is PyDict db)
        {
            if (da.Count != db.Count) return false;
            foreach (var kv in da)
                if (!db.TryGetValue(kv.Key, out var other) || !Equal(kv.Value, other)) return false;
            return true;
        }
        return ReferenceEquals(a, b);
    }

    public static long ToLong(object? v) => v switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        double d => (long)d,
        _ => throw new ChatTemplateException($"expected an integer, got {TypeName(v)}"),
    };

    /// <summary>Python ordering for &lt; &gt; &lt;= &gt;=: numbers, strings (by code unit), lists lexicographically.</summary>
    public static int Compare(object? a, object? b, string op)
    {
        a = Plain(a);
        b = Plain(b);
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is double || b is double) return ToDouble(a).CompareTo(ToDouble(b));
            return ToLong(a).CompareTo(ToLong(b));
        }
        if (a is string sa && b is string sb) return Math.Sign(string.CompareOrdinal(sa, sb));
        if (a is List<object?> la && b is List<object?> lb)
        {
            for (int i = 0; i < Math.Min(la.Count, lb.Count); i++)
                if (!Equal(la[i], lb[i])) return Compare(la[i], lb[i], op);
            return la.Count.CompareTo(lb.Count);
        }
        throw new ChatTemplateException($"'{op}' not supported between instances of '{TypeName(a)}' and '{TypeName(b)}'");
    }

    /// <summary>Iterates a value as a Python for loop would: lists, dict keys, string characters; Undefined is empty.</summary>
    public static List<object?> Iterate(object? v) => Plain(v) switch
    {
        List<object?> l => l,
        PyDict d => d.Keys.ToList<object?>(),
        string s => StringChars(s),
        Undefined => [],
        _ => throw new ChatTemplateException($"'{TypeName(v)}' object is not iterable"),
    };

    /// <summary>A string's characters as Python sees them (surrogate pairs kept together).</summary>
    public static List<object?> StringChars(string s)
    {
        var r = new List<object?>(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) { r.Add(s.Substring(i, 2)); i++; }
            else r.Add(s[i].ToString());
        }
        return r;
    }

    public static bool Contains(object? container, object? item)
    {
        container = Plain(container);
        item = Plain(item);
        return container switch
        {
            string s when item is string sub => s.Contains(sub, StringComparison.Ordinal),
            string => throw new ChatTemplateException($"'in <string>' requires string as left operand, not {TypeName(item)}"),
            List<object?> l => l.Any(x => Equal(x, item)),
            PyDict d => item is not null and not Undefined and not List<object?> and not PyDict && d.ContainsKey(item),
            Undefined => false,
            _ => throw new ChatTemplateException($"argument of type '{TypeName(container)}' is not iterable"),
        };
    }

    public static long Length(object? v) => Plain(v) switch
    {
        string s => StringChars(s).Count,
        List<object?> l => l.Count,
        PyDict d => d.Count,
        Undefined => 0,
        _ => throw new ChatTemplateException($"object of type '{TypeName(v)}' has no len()"),
    };
}
