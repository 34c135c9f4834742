namespace Loom.Text.Chat.Jinja;

/// <summary>Attribute and item access (Jinja's getattr/getitem in a sandbox) and the Python methods of str, dict and list.</summary>
internal static class JinjaMethods
{
    public static object? GetAttr(object? obj, string name)
    {
        obj = Py.Plain(obj);
        switch (obj)
        {
            case Undefined u: throw new ChatTemplateException($"{u.Description} (reading its attribute '{name}')");
            case PyDict d:
                if (DictMethod(d, name) is { } dm) return dm;
                return d.TryGetValue(name, out var v) ? v : new Undefined($"'dict object' has no attribute '{name}'");
            case string s: return (object?)StringMethod(s, name) ?? new Undefined($"'str object' has no attribute '{name}'");
            case List<object?> l: return (object?)ListMethod(l, name) ?? new Undefined($"'list object' has no attribute '{name}'");
            case JinjaNamespace ns: return ns.Attributes.TryGetValue(name, out var nv) ? nv : new Undefined($"'Namespace' object has no attribute '{name}'");
            case LoopContext loop: return loop.Get(name);
            default: return new Undefined($"'{Py.TypeName(obj)} object' has no attribute '{name}'");
        }
    }

    public static object? GetItem(object? obj, object? key)
    {
        obj = Py.Plain(obj);
        switch (obj)
        {
            case Undefined u: throw new ChatTemplateException($"{u.Description} (reading its item {Py.Repr(key)})");
            case PyDict d:
                if (Py.Plain(key) is string or long or double or bool && d.TryGetValue(Py.Plain(key)!, out var v)) return v;
                if (Py.Plain(key) is string k) return (object?)DictMethod(d, k) ?? new Undefined($"'dict object' has no attribute '{k}'");
                return new Undefined($"'dict object' has no attribute {Py.Repr(key)}");
            case PyGenerator: return new Undefined($"'generator' object is not subscriptable (reading item {Py.Repr(key)})");
            case List<object?> l when key is long or bool:
            {
                long i = Py.ToLong(key);
                if (i < 0) i += l.Count;
                return i >= 0 && i < l.Count ? l[(int)i] : new Undefined($"'list object' has no element {Py.Repr(key)}");
            }
            case string s when key is long or bool:
            {
                var chars = Py.StringChars(s);
                long i = Py.ToLong(key);
                if (i < 0) i += chars.Count;
                return i >= 0 && i < chars.Count ? chars[(int)i] : new Undefined($"'str object' has no element {Py.Repr(key)}");
            }
            case JinjaNamespace or LoopContext when key is string name: return GetAttr(obj, name);
            default:
                return key is string attr ? GetAttr(obj, attr) : new Undefined($"'{Py.TypeName(obj)} object' has no element {Py.Repr(key)}");
        }
    }

    /// <summary>Python slicing obj[start:stop:step] of lists and strings.</summary>
    public static object? Slice(object? obj, object? start, object? stop, object? step)
    {
        obj = Py.Plain(obj);
        if (obj is Undefined u) throw new ChatTemplateException($"{u.Description} (slicing it)");
        if (obj is PyGenerator) throw new ChatTemplateException("'generator' object is not subscriptable");
        List<object?> items = obj switch
        {
            List<object?> l => l,
            string s => Py.StringChars(s),
            _ => throw new ChatTemplateException($"'{Py.TypeName(obj)}' object is not subscriptable"),
        };
        long n = items.Count;
        long st = step is null ? 1 : Py.ToLong(step);
        if (st == 0) throw new ChatTemplateException("slice step cannot be zero");
        long Clamp(object? v, long dflt)
        {
            if (v is null) return dflt;
            long i = Py.ToLong(v);
            if (i < 0) i += n;
            return st > 0 ? Math.Clamp(i, 0, n) : Math.Clamp(i, -1, n - 1);
        }
        long a = Clamp(start, st > 0 ? 0 : n - 1), b = Clamp(stop, st > 0 ? n : -1);
        var r = new List<object?>();
        if (st > 0) for (long i = a; i < b; i += st) r.Add(items[(int)i]);
        else for (long i = a; i > b; i += st) r.Add(items[(int)i]);
        return obj is string ? string.Concat(r.Cast<string>()) : r;
    }

    private static JinjaCallable? DictMethod(PyDict d, string name) => name switch
    {
        "get" => (a, k) => Arg(a, k, 0, "key") is { } key && d.TryGetValue(Py.Plain(key)!, out var v) ? v : Opt(a, k, 1, "default", null),
        "items" => (_, _) => d.Select(kv => (object?)new PyTuple { kv.Key, kv.Value }).ToList(),
        "keys" => (_, _) => d.Keys.Select(x => (object?)x).ToList(),
        "values" => (_, _) => d.Values.ToList(),
        "copy" => (_, _) => new PyDict(d),
        "update" or "pop" or "setdefault" or "clear" or "popitem" => Immutable(name),
        _ => null,
    };

    private static JinjaCallable? ListMethod(List<object?> l, string name) => name switch
    {
        "index" => (a, k) =>
        {
            var x = Arg(a, k, 0, "value");
            int i = l.FindIndex(y => Py.Equal(x, y));
            return i >= 0 ? (long)i : throw new ChatTemplateException($"{Py.Repr(x)} is not in list");
        },
        "count" => (a, k) => (long)l.Count(y => Py.Equal(Arg(a, k, 0, "value"), y)),
        "copy" => (_, _) => l.ToList(),
        "append" or "extend" or "insert" or "pop" or "remove" or "clear" or "sort" or "reverse" => Immutable(name),
        _ => null,
    };

    private static JinjaCallable Immutable(string name) => (_, _) =>
        throw new ChatTemplateException($"'{name}' would modify a value, which the sandbox (ImmutableSandboxedEnvironment) forbids");

    private static JinjaCallable? StringMethod(string s, string name) => name switch
    {
        "strip" => (a, k) => PyString.Strip(s, OptStr(a, k, 0, "chars")),
        "lstrip" => (a, k) => PyString.LStrip(s, OptStr(a, k, 0, "chars")),
        "rstrip" => (a, k) => PyString.RStrip(s, OptStr(a, k, 0, "chars")),
        "upper" => (_, _) => PyString.Upper(s),
        "lower" => (_, _) => s.ToLowerInvariant(),
        "title" => (_, _) => PyString.Title(s),
        "capitalize" => (_, _) => PyString.Capitalize(s),
        "startswith" => (a, k) => Affix(Arg(a, k, 0, "prefix"), p => s.StartsWith(p, StringComparison.Ordinal)),
        "endswith" => (a, k) => Affix(Arg(a, k, 0, "suffix"), p => s.EndsWith(p, StringComparison.Ordinal)),
        "split" => (a, k) => PyString.Split(s, OptStr(a, k, 0, "sep"), Opt(a, k, 1, "maxsplit", -1L) is { } m ? Py.ToLong(m) : -1),
        "splitlines" => (_, _) => s.Split('\n').Select(x => (object?)x.TrimEnd('\r')).Take(s.EndsWith('\n') ? s.Split('\n').Length - 1 : int.MaxValue).ToList(),
        "replace" => (a, k) => PyString.Replace(s, Str(Arg(a, k, 0, "old")), Str(Arg(a, k, 1, "new")), Py.ToLong(Opt(a, k, 2, "count", -1L))),
        "find" => (a, k) => (long)s.IndexOf(Str(Arg(a, k, 0, "sub")), StringComparison.Ordinal),
        "count" => (a, k) => (long)CountOf(s, Str(Arg(a, k, 0, "sub"))),
        "join" => (a, k) => string.Join(s, Py.Iterate(Arg(a, k, 0, "iterable")).Select(Py.Str)),
        "isdigit" => (_, _) => s.Length > 0 && s.All(char.IsDigit),
        "isspace" => (_, _) => s.Length > 0 && s.All(PyString.IsSpace),
        "isalpha" => (_, _) => s.Length > 0 && s.All(char.IsLetter),
        "format" => (a, k) => Format(s, a, k),
        _ => null,
    };

    private static bool Affix(object? arg, Func<string, bool> test) => arg switch
    {
        string p => test(p),
        List<object?> options => options.Any(o => test(Str(o))),
        _ => throw new ChatTemplateException($"startswith/endswith first arg must be str or a tuple of str, not {Py.TypeName(arg)}"),
    };

    private static int CountOf(string s, string sub)
    {
        if (sub.Length == 0) return Py.StringChars(s).Count + 1;
        int n = 0;
        for (int i = s.IndexOf(sub, StringComparison.Ordinal); i >= 0; i = s.IndexOf(sub, i + sub.Length, StringComparison.Ordinal)) n++;
        return n;
    }

    /// <summary>str.format with {} / {0} / {name} fields (no format specs).</summary>
    private static string Format(string s, List<object?> args, PyDict kwargs)
    {
        var sb = new System.Text.StringBuilder();
        int auto = 0;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c == '{' && i + 1 < s.Length && s[i + 1] == '{') { sb.Append('{'); i++; continue; }
            if (c == '}' && i + 1 < s.Length && s[i + 1] == '}') { sb.Append('}'); i++; continue; }
            if (c != '{') { sb.Append(c); continue; }
            int end = s.IndexOf('}', i);
            if (end < 0) throw new ChatTemplateException("format: single '{' encountered in format string");
            string field = s[(i + 1)..end];
            object? v;
            if (field.Length == 0) v = auto < args.Count ? args[auto++] : throw new ChatTemplateException("format: not enough arguments");
            else if (int.TryParse(field, out int idx)) v = idx < args.Count ? args[idx] : throw new ChatTemplateException($"format: no argument {idx}");
            else v = kwargs.TryGetValue(field, out var kv) ? kv : throw new ChatTemplateException($"format: no argument named '{field}'");
            sb.Append(Py.Str(v));
            i = end;
        }
        return sb.ToString();
    }

    private static string Str(object? v) => v as string ?? throw new ChatTemplateException($"expected a string argument, got {Py.TypeName(v)}");

    public static object? Arg(List<object?> a, PyDict k, int i, string name) =>
        i < a.Count ? a[i] : k.TryGetValue(name, out var v) ? v : throw new ChatTemplateException($"missing argument '{name}'");

    public static object? Opt(List<object?> a, PyDict k, int i, string name, object? dflt) =>
        i < a.Count ? a[i] : k.TryGetValue(name, out var v) ? v : dflt;

    private static string? OptStr(List<object?> a, PyDict k, int i, string name) =>
        Opt(a, k, i, name, null) switch
        {
            null => null,
            string s => s,
            var v => throw new ChatTemplateException($"argument '{name}' must be a string, got {Py.TypeName(v)}"),
        };
}
