namespace Loom.Text.Chat.Jinja;

/// <summary>Jinja's built-in tests (<c>value is name(args)</c>).</summary>
internal static class JinjaTests
{
    public static bool Apply(string name, object? v, List<object?> args)
    {
        v = Py.Plain(v);
        object? Arg0() => args.Count > 0 ? args[0] : throw new ChatTemplateException($"test '{name}' needs an argument");
        return name switch
        {
            "defined" => v is not Undefined,
            "undefined" => v is Undefined,
            "none" => v is null,
            "boolean" => v is bool,
            "true" => v is true,
            "false" => v is false,
            "string" => v is string,
            "number" => v is long or double or bool,
            "integer" => v is long,
            "float" => v is double,
            "mapping" => v is PyDict,
            "iterable" => v is string or List<object?> or PyDict or Undefined,
            "sequence" => v is string or PyDict || (v is List<object?> && v is not PyGenerator),
            "callable" => v is JinjaCallable,
            "lower" => v is string s && s == s.ToLowerInvariant(),
            "upper" => v is string s2 && s2 == s2.ToUpperInvariant(),
            "odd" => Py.ToLong(v) % 2 != 0,
            "even" => Py.ToLong(v) % 2 == 0,
            "divisibleby" => Py.ToLong(v) % Py.ToLong(Arg0()) == 0,
            "eq" or "equalto" or "==" => Py.Equal(v, Arg0()),
            "ne" or "!=" => !Py.Equal(v, Arg0()),
            "lt" or "lessthan" or "<" => Py.Compare(v, Arg0(), "<") < 0,
            "le" or "<=" => Py.Compare(v, Arg0(), "<=") <= 0,
            "gt" or "greaterthan" or ">" => Py.Compare(v, Arg0(), ">") > 0,
            "ge" or ">=" => Py.Compare(v, Arg0(), ">=") >= 0,
            "in" => Py.Contains(Arg0(), v),
            "sameas" => ReferenceEquals(v, Arg0()) || (v is bool or null && Py.Equal(v, Arg0()) && v?.GetType() == Arg0()?.GetType()),
            _ => throw new ChatTemplateException($"unknown test '{name}'"),
        };
    }
}
