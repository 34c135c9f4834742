using System.Text;

namespace Loom.Text.Chat.Jinja;

/// <summary>Python's binary operators on template values: arithmetic, ~ concatenation, comparisons, in.</summary>
internal static class Operators
{
    public static object? Binary(string op, object? a, object? b)
    {
        try
        {
            return BinaryUnchecked(op, a, b);
        }
        catch (OverflowException)
        {
            throw new ChatTemplateException($"integer overflow in '{op}' (Loom's integers are 64-bit)");
        }
    }

    private static object? BinaryUnchecked(string op, object? a, object? b)
    {
        switch (op)
        {
            case "~": return Checked(Py.Str(a), Py.Str(b));
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
                if (a is string sa && b is string sb) return Checked(sa, sb);
                if (a is List<object?> la && b is List<object?> lb)
                {
                    if ((long)la.Count + lb.Count > MaxListItems) throw new ChatTemplateException($"list longer than {MaxListItems} items");
                    return la.Concat(lb).ToList();
                }
                break;
            case "*":
                if (a is string s1 && b is long or bool) return Repeat(s1, Py.ToLong(b));
                if (b is string s2 && a is long or bool) return Repeat(s2, Py.ToLong(a));
                if (a is List<object?> l1 && b is long or bool) return RepeatList(l1, Py.ToLong(b));
                if (b is List<object?> l2 && a is long or bool) return RepeatList(l2, Py.ToLong(a));
                break;
        }
        if (op == "%" && a is string format) return PercentFormat(format, b is PyTuple t ? t : [b]);
        if (!Py.IsNumber(a) || !Py.IsNumber(b))
            throw new ChatTemplateException($"unsupported operand type(s) for {op}: '{Py.TypeName(a)}' and '{Py.TypeName(b)}'");
        bool ints = a is not double && b is not double;
        switch (op)
        {
            case "+": return ints ? (object)checked(Py.ToLong(a) + Py.ToLong(b)) : Py.ToDouble(a) + Py.ToDouble(b);
            case "-": return ints ? (object)checked(Py.ToLong(a) - Py.ToLong(b)) : Py.ToDouble(a) - Py.ToDouble(b);
            case "*": return ints ? (object)checked(Py.ToLong(a) * Py.ToLong(b)) : Py.ToDouble(a) * Py.ToDouble(b);
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
                if (ints && Py.ToLong(b) >= 0)
                {
                    long r = 1, x = Py.ToLong(a), e = Py.ToLong(b);
                    if (x is 0 or 1) return e == 0 ? 1L : x;
                    if (x == -1) return e % 2 == 0 ? 1L : -1L;
                    for (long i = 0; i < e; i++) r = checked(r * x); // |x| >= 2 overflows within 63 steps
                    return r;
                }
                return Math.Pow(Py.ToDouble(a), Py.ToDouble(b));
        }
        throw new ChatTemplateException($"unknown operator '{op}'");
    }

    private const int MaxListItems = 1 << 22;

    private static string Checked(string a, string b) =>
        (long)a.Length + b.Length > JinjaInterpreter.MaxOutputChars
            ? throw new ChatTemplateException($"string longer than {JinjaInterpreter.MaxOutputChars} characters")
            : a + b;

    /// <summary>Python's printf-style str % args for %s, %r, %d, %i, %f and %%.</summary>
    public static string PercentFormat(string format, List<object?> args)
    {
        var sb = new StringBuilder();
        int next = 0;
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%') { sb.Append(format[i]); continue; }
            if (++i >= format.Length) throw new ChatTemplateException("incomplete format: '%' at the end");
            char c = format[i];
            if (c == '%') { sb.Append('%'); continue; }
            if (next >= args.Count) throw new ChatTemplateException("not enough arguments for format string");
            var v = args[next++];
            sb.Append(c switch
            {
                's' => Py.Str(v),
                'r' => Py.Repr(v),
                'd' or 'i' => Py.ToLong(v is double d ? Math.Truncate(d) : v).ToString(System.Globalization.CultureInfo.InvariantCulture),
                'f' => Py.ToDouble(v).ToString("F6", System.Globalization.CultureInfo.InvariantCulture),
                _ => throw new ChatTemplateException($"unsupported format character '{c}'"),
            });
        }
        if (next < args.Count) throw new ChatTemplateException("not all arguments converted during string formatting");
        return sb.ToString();
    }

    private static long FloorDiv(long x, long y)
    {
        long q = x / y;
        return (x % y != 0 && (x < 0) != (y < 0)) ? q - 1 : q;
    }

    private static string Repeat(string s, long n)
    {
        if (n <= 0) return "";
        if (n > JinjaInterpreter.MaxOutputChars / Math.Max(s.Length, 1)) throw new ChatTemplateException("string repetition result is too large");
        var sb = new StringBuilder();
        for (long i = 0; i < n; i++) sb.Append(s);
        return sb.ToString();
    }

    private static List<object?> RepeatList(List<object?> l, long n)
    {
        if (n > MaxListItems / Math.Max(l.Count, 1)) throw new ChatTemplateException("list repetition result is too large");
        var r = new List<object?>();
        for (long i = 0; i < n; i++) r.AddRange(l);
        return r;
    }
}
