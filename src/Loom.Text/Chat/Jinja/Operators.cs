using System.Text;

namespace Loom.Text.Chat.Jinja;

/// <summary>Python's binary operators on template values: arithmetic, ~ concatenation, comparisons, in.</summary>
internal static class Operators
{
    public static object? Binary(string op, object? a, object? b)
    {
        switch (op)
        {
            case "~": return Py.Str(a) + Py.Str(b);
            case "==": return Py.Equal(a, b);
            case "!=": return !Py.Equal(a, b);
            case "<": return Py.Compare(a, b, op) < 0;
            case ">": return Py.Compare(a, b, op) > 0;
            case "<=": return Py.Compare(a, b, op) <= 0;
            case ">=": return Py.Compare(a, b, op) >= 0;
            case "in": return Py.Contains(b, a);
            case "not in": return !Py.Contains(b, a);
        }
        if (op == "+" && (a is Markup || b is Markup) && Py.Plain(a) is string && Py.Plain(b) is string)
            return new Markup((a is Markup ma ? ma.Value : Markup.Escape((string)a!)) + (b is Markup mb ? mb.Value : Markup.Escape((string)b!)));
        a = Py.Plain(a);
        b = Py.Plain(b);
        if (a is PyGenerator || b is PyGenerator)
            throw new ChatTemplateException($"unsupported operand type(s) for {op}: '{Py.TypeName(a)}' and '{Py.TypeName(b)}'");
        if (a is Undefined ua) throw new ChatTemplateException($"{ua.Description} (used with '{op}')");
        if (b is Undefined ub) throw new ChatTemplateException($"{ub.Description} (used with '{op}')");
        switch (op)
        {
            case "+":
                if (a is string sa && b is string sb) return sa + sb;
                if (a is List<object?> la && b is List<object?> lb) return la.Concat(lb).ToList();
                break;
            case "*":
                if (a is string s1 && b is long or bool) return Repeat(s1, Py.ToLong(b));
                if (b is string s2 && a is long or bool) return Repeat(s2, Py.ToLong(a));
                if (a is List<object?> l1 && b is long or bool) return RepeatList(l1, Py.ToLong(b));
                if (b is List<object?> l2 && a is long or bool) return RepeatList(l2, Py.ToLong(a));
                break;
        }
        if (!Py.IsNumber(a) || !Py.IsNumber(b))
            throw new ChatTemplateException($"unsupported operand type(s) for {op}: '{Py.TypeName(a)}' and '{Py.TypeName(b)}'");
        bool ints = a is not double && b is not double;
        switch (op)
        {
            case "+": return ints ? (object)(Py.ToLong(a) + Py.ToLong(b)) : Py.ToDouble(a) + Py.ToDouble(b);
            case "-": return ints ? (object)(Py.ToLong(a) - Py.ToLong(b)) : Py.ToDouble(a) - Py.ToDouble(b);
            case "*": return ints ? (object)(Py.ToLong(a) * Py.ToLong(b)) : Py.ToDouble(a) * Py.ToDouble(b);
            case "/":
                if (Py.ToDouble(b) == 0) throw new ChatTemplateException("division by zero");
                return Py.ToDouble(a) / Py.ToDouble(b);
            case "//":
                if (Py.ToDouble(b) == 0) throw new ChatTemplateException("integer division or modulo by zero");
                if (ints) return FloorDiv(Py.ToLong(a), Py.ToLong(b));
                return Math.Floor(Py.ToDouble(a) / Py.ToDouble(b));
            case "%":
                if (Py.ToDouble(b) == 0) throw new ChatTemplateException("integer division or modulo by zero");
                if (ints) { long x = Py.ToLong(a), y = Py.ToLong(b); return x - FloorDiv(x, y) * y; }
                { double x = Py.ToDouble(a), y = Py.ToDouble(b); double r = x % y; return r != 0 && (r < 0) != (y < 0) ? r + y : r; }
            case "**":
                if (ints && Py.ToLong(b) >= 0) { long r = 1, x = Py.ToLong(a); for (long i = 0; i < Py.ToLong(b); i++) r *= x; return r; }
                return Math.Pow(Py.ToDouble(a), Py.ToDouble(b));
        }
        throw new ChatTemplateException($"unknown operator '{op}'");
    }

    private static long FloorDiv(long x, long y)
    {
        long q = x / y;
        return (x % y != 0 && (x < 0) != (y < 0)) ? q - 1 : q;
    }

    private static string Repeat(string s, long n)
    {
        if (n <= 0) return "";
        if (s.Length * n > 1 << 24) throw new ChatTemplateException("string repetition result is too large");
        var sb = new StringBuilder();
        for (long i = 0; i < n; i++) sb.Append(s);
        return sb.ToString();
    }

    private static List<object?> RepeatList(List<object?> l, long n)
    {
        if (l.Count * Math.Max(n, 0) > 1 << 24) throw new ChatTemplateException("list repetition result is too large");
        var r = new List<object?>();
        for (long i = 0; i < n; i++) r.AddRange(l);
        return r;
    }
}
