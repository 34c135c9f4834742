using System.Globalization;

namespace Loom.Text.Chat.Jinja;

/// <summary>Jinja's built-in filters (<c>value | name(args)</c>), with HF transformers' tojson.</summary>
internal static class JinjaFilters
{
    public static object? Apply(JinjaInterpreter interp, string name, object? v, List<object?> a, PyDict k)
    {
        object? Arg(int i, string n) => JinjaMethods.Arg(a, k, i, n);
        object? Opt(int i, string n, object? d) => JinjaMethods.Opt(a, k, i, n, d);
        if (name is "safe") return v is Markup ? v : new Markup(Py.Str(v));
        if (name is "e" or "escape" or "forceescape") return v is Markup && name != "forceescape" ? v : new Markup(Markup.Escape(Py.Str(v)));
        v = Py.Plain(v);
        switch (name)
        {
            case "trim": return Opt(0, "chars", null) is string chars ? PyString.Strip(Py.Str(v), chars) : PyString.Strip(Py.Str(v));
            case "upper": return PyString.Upper(Py.Str(v));
            case "lower": return Py.Str(v).ToLowerInvariant();
            case "capitalize": return PyString.Capitalize(Py.Str(v));
            case "title": return PyString.Title(Py.Str(v));
            case "length" or "count": return Py.Length(v);
            case "string": return Py.Str(v);
            case "tojson":
            {
                var indent = Opt(0, "indent", null);
                string? indentStr = indent switch
                {
                    null => null,
                    long n => new string(' ', (int)Math.Max(0, n)),
                    string s => s,
                    _ => throw new ChatTemplateException($"tojson: indent must be an integer or string, got {Py.TypeName(indent)}"),
                };
                string? itemSep = null, keySep = null;
                if (k.TryGetValue("separators", out var seps) && seps is List<object?> { Count: 2 } sepList)
                {
                    itemSep = Py.Str(sepList[0]);
                    keySep = Py.Str(sepList[1]);
                }
                bool sortKeys = k.TryGetValue("sort_keys", out var sk) && Py.Truthy(sk);
                bool ensureAscii = k.TryGetValue("ensure_ascii", out var ea) && Py.Truthy(ea);
                return JinjaJson.Dumps(v, indentStr, itemSep, keySep, sortKeys, ensureAscii);
            }
            case "int":
            {
                var dflt = Opt(0, "default", 0L);
                return v switch
                {
                    long l => l,
                    bool b => b ? 1L : 0L,
                    double dv => (long)Math.Truncate(dv),
                    string s when long.TryParse(s.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l2) => l2,
                    string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double d2) => (long)Math.Truncate(d2),
                    _ => dflt,
                };
            }
            case "float":
                return v switch
                {
                    long or double or bool => Py.ToDouble(v),
                    string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double dv2) => dv2,
                    _ => Opt(0, "default", 0.0),
                };
            case "abs": return v is long l3 ? (object)Math.Abs(l3) : Math.Abs(Py.ToDouble(v));
            case "round":
            {
                long precision = Py.ToLong(Opt(0, "precision", 0L));
                string method = Py.Str(Opt(1, "method", "common"));
                double x = Py.ToDouble(v), scale = Math.Pow(10, precision);
                return method switch
                {
                    "ceil" => Math.Ceiling(x * scale) / scale,
                    "floor" => Math.Floor(x * scale) / scale,
                    _ => Math.Round(x * scale, MidpointRounding.ToEven) / scale,
                };
            }
            case "join":
            {
                string sep = Py.Str(Opt(0, "d", ""));
                var attr = Opt(1, "attribute", null);
                var items = Py.Iterate(v);
                if (attr is not null) items = items.Select(x => Attribute(x, attr)).ToList();
                return string.Join(sep, items.Select(Py.Str));
            }
            case "default" or "d":
            {
                var dflt = Opt(0, "default_value", "");
                bool boolean = Py.Truthy(Opt(1, "boolean", false));
                return v is Undefined || (boolean && !Py.Truthy(v)) ? dflt : v;
            }
            case "first":
            {
                var items = Py.Iterate(v);
                return items.Count > 0 ? items[0] : new Undefined("No first item, sequence was empty.");
            }
            case "last":
            {
                var items = Py.Iterate(v);
                return items.Count > 0 ? items[^1] : new Undefined("No last item, sequence was empty.");
            }
            case "list": return Py.Iterate(v).ToList();
            case "reverse":
                if (v is string rs) return string.Concat(Py.StringChars(rs).Cast<string>().Reverse());
                return new PyGenerator(Py.Iterate(v).AsEnumerable().Reverse());
            case "replace":
                return PyString.Replace(Py.Str(v), Py.Str(Arg(0, "old")), Py.Str(Arg(1, "new")), Opt(2, "count", null) is { } c ? Py.ToLong(c) : -1);
            case "items":
                if (v is Undefined) return new List<object?>();
                if (v is not PyDict d) throw new ChatTemplateException($"items: expected a mapping, got {Py.TypeName(v)}");
                return new PyGenerator(d.Select(kv => (object?)new PyTuple { kv.Key, kv.Value }));
            case "dictsort":
                if (v is not PyDict ds) throw new ChatTemplateException($"dictsort: expected a mapping, got {Py.TypeName(v)}");
                return ds.OrderBy(kv => Py.Str(kv.Key), StringComparer.OrdinalIgnoreCase).Select(kv => (object?)new PyTuple { kv.Key, kv.Value }).ToList();
            case "unique":
            {
                var r = new List<object?>();
                foreach (var x in Py.Iterate(v)) if (!r.Any(y => Py.Equal(x, y))) r.Add(x);
                return new PyGenerator(r);
            }
            case "sort":
            {
                bool reverse = Py.Truthy(Opt(0, "reverse", false));
                var attr = Opt(2, "attribute", null);
                var items = Py.Iterate(v).ToList();
                Comparison<object?> cmp = (x, y) =>
                {
                    object? kx = attr is null ? x : Attribute(x, attr), ky = attr is null ? y : Attribute(y, attr);
                    if (kx is string sx && ky is string sy) return string.CompareOrdinal(sx.ToLowerInvariant(), sy.ToLowerInvariant());
                    return Py.Compare(kx, ky, "<");
                };
                var sorted = items.Order(Comparer<object?>.Create(cmp)).ToList();
                if (reverse) sorted.Reverse();
                return sorted;
            }
            case "min" or "max":
            {
                var items = Py.Iterate(v);
                if (items.Count == 0) return new Undefined($"{name} of an empty sequence");
                var best = items[0];
                foreach (var x in items.Skip(1))
                    if ((name == "min" ? Py.Compare(x, best, "<") < 0 : Py.Compare(x, best, ">") > 0)) best = x;
                return best;
            }
            case "sum":
            {
                object? total = Opt(1, "start", 0L);
                var attr = Opt(0, "attribute", null);
                foreach (var x in Py.Iterate(v)) total = Operators.Binary("+", total, attr is null ? x : Attribute(x, attr));
                return total;
            }
            case "selectattr" or "rejectattr":
            {
                var attr = Arg(0, "attribute");
                bool select = name == "selectattr";
                string? test = a.Count > 1 ? Py.Str(a[1]) : null;
                var testArgs = a.Skip(2).ToList();
                if (!Py.Truthy(v)) return new PyGenerator([]);
                return new PyGenerator(Py.Iterate(v).Where(x =>
                {
                    var value = Attribute(x, attr);
                    bool r = test is null ? Py.Truthy(value) : JinjaTests.Apply(test, value, testArgs);
                    return r == select;
                }));
            }
            case "select" or "reject":
            {
                bool select = name == "select";
                string? test = a.Count > 0 ? Py.Str(a[0]) : null;
                var testArgs = a.Skip(1).ToList();
                if (!Py.Truthy(v)) return new PyGenerator([]);
                return new PyGenerator(Py.Iterate(v).Where(x => (test is null ? Py.Truthy(x) : JinjaTests.Apply(test, x, testArgs)) == select));
            }
            case "map":
            {
                if (!Py.Truthy(v)) return new PyGenerator([]);
                if (k.TryGetValue("attribute", out var attr))
                {
                    bool hasDefault = k.TryGetValue("default", out var dflt);
                    return new PyGenerator(Py.Iterate(v).Select(x =>
                    {
                        var r = Attribute(x, attr);
                        return r is Undefined && hasDefault ? dflt : r;
                    }));
                }
                if (a.Count == 0) throw new ChatTemplateException("map: give a filter name or attribute=");
                string filter = Py.Str(a[0]);
                var rest = a.Skip(1).ToList();
                return new PyGenerator(Py.Iterate(v).Select(x => Apply(interp, filter, x, rest, new PyDict())));
            }
            case "batch":
            {
                long size = Py.ToLong(Arg(0, "linecount"));
                if (size <= 0) throw new ChatTemplateException("batch: size must be positive");
                return new PyGenerator(Py.Iterate(v).Chunk((int)size).Select(c => (object?)c.ToList()));
            }
            case "indent":
            {
                var width = Opt(0, "width", 4L);
                string pad = width is string ws ? ws : new string(' ', (int)Py.ToLong(width));
                bool first = Py.Truthy(Opt(1, "first", false)), blank = Py.Truthy(Opt(2, "blank", false));
                var lines = Py.Str(v).Split('\n');
                for (int i = 0; i < lines.Length; i++)
                    if ((i > 0 || first) && (blank || lines[i].Length > 0)) lines[i] = pad + lines[i];
                return string.Join("\n", lines);
            }
            case "wordcount": return (long)PyString.Split(Py.Str(v), null, -1).Count;
            case "center":
            {
                string s = Py.Str(v);
                int width = (int)Py.ToLong(Opt(0, "width", 80L));
                if (s.Length >= width) return s;
                int total = width - s.Length, left = total / 2 + (total & width & 1);
                return new string(' ', left) + s + new string(' ', total - left);
            }
            case "pprint": return Py.Repr(v);
            case "format": return Operators.PercentFormat(Py.Str(v), a);
            case "attr": return JinjaMethods.GetAttr(v, Py.Str(Arg(0, "name")));
            case "truncate":
            {
                string s = Py.Str(v);
                long length = Py.ToLong(Opt(0, "length", 255L)), leeway = Py.ToLong(Opt(3, "leeway", 5L));
                bool killwords = Py.Truthy(Opt(1, "killwords", false));
                string end = Py.Str(Opt(2, "end", "..."));
                if (s.Length <= length + leeway) return s;
                if (killwords) return s[..(int)Math.Max(0, length - end.Length)] + end;
                string cut = s[..(int)Math.Max(0, length - end.Length)];
                int space = cut.LastIndexOf(' ');
                return (space >= 0 ? cut[..space] : cut) + end;
            }
            default:
                throw new ChatTemplateException($"unknown filter '{name}'");
        }
    }

    /// <summary>Jinja's attribute lookup for filters: "a.b" follows dots, integers index.</summary>
    private static object? Attribute(object? x, object? attr)
    {
        if (attr is long i) return JinjaMethods.GetItem(x, i);
        foreach (var part in Py.Str(attr).Split('.'))
        {
            if (x is Undefined) return x;
            x = int.TryParse(part, out int idx) ? JinjaMethods.GetItem(x, (long)idx) : JinjaMethods.GetItem(x, part);
        }
        return x;
    }
}
