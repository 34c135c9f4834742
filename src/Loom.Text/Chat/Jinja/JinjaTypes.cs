namespace Loom.Text.Chat.Jinja;

/// <summary>Jinja's default Undefined: prints as "", is falsy and iterates as empty; attribute access or arithmetic on it fails.</summary>
internal sealed class Undefined(string description)
{
    /// <summary>What was missing, for error messages ("'foo' is undefined").</summary>
    public string Description { get; } = description;

    public static readonly Undefined Unnamed = new("value is undefined");

    public override string ToString() => "";
}

/// <summary>The object namespace() returns: attributes assignable with {% set ns.x = ... %} from any scope.</summary>
internal sealed class JinjaNamespace
{
    public Dictionary<string, object?> Attributes { get; } = new();
}

/// <summary>A Python dict: insertion-ordered, keys of any hashable value compared as Python does (1 == 1.0 == True).</summary>
internal sealed class PyDict : Dictionary<object, object?>
{
    public PyDict() : base(PyKeyComparer.Instance) { }

    public PyDict(IEnumerable<KeyValuePair<object, object?>> items) : base(PyKeyComparer.Instance)
    {
        foreach (var kv in items) this[kv.Key] = kv.Value;
    }

    /// <summary>Python dict keys equal when == says so; numbers hash by value so 1, 1.0 and True collide as in Python.</summary>
    private sealed class PyKeyComparer : IEqualityComparer<object>
    {
        public static readonly PyKeyComparer Instance = new();

        public new bool Equals(object? a, object? b) => Py.Equal(a, b);

        public int GetHashCode(object o) => o switch
        {
            string s => string.GetHashCode(s, StringComparison.Ordinal),
            long or double or bool => Py.ToDouble(o).GetHashCode(),
            _ => o.GetHashCode(),
        };
    }
}

/// <summary>Text marked safe (the safe and escape filters): adding a plain string to it HTML-escapes that string, as markupsafe does.</summary>
internal sealed class Markup(string value)
{
    public string Value { get; } = value;

    public static string Escape(string s) =>
        s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&#34;").Replace("'", "&#39;");

    public override string ToString() => Value;
}

/// <summary>The lazy result of select, reject, selectattr, rejectattr and map: iterable, always truthy, not a
/// sequence and not JSON serializable (pipe it through list first), as in Jinja2.</summary>
internal sealed class PyGenerator : List<object?>
{
    public PyGenerator(IEnumerable<object?> items) : base(items) { }
}

/// <summary>A Python tuple: a list that prints with parentheses (dict.items() pairs, (a, b) literals).</summary>
internal sealed class PyTuple : List<object?>
{
    public PyTuple() { }

    public PyTuple(IEnumerable<object?> items) : base(items) { }
}

/// <summary>A callable value: global functions, bound methods and macros. Gets positional and keyword arguments.</summary>
internal delegate object? JinjaCallable(List<object?> args, PyDict kwargs);
