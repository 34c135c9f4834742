using System.Text.Json;

namespace Loom.Serving.Api;

/// <summary>Typed, validated reads of request fields; every failure is a 400 naming the parameter.</summary>
internal readonly struct JsonArgs
{
    private readonly JsonElement _root;

    public JsonArgs(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object) throw new ApiException(400, $"the request body must be a JSON object, got {root.ValueKind}", null, "invalid_json");
        _root = root;
    }

    public bool Has(string name) => _root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null;

    public JsonElement? Get(string name) => _root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    public string? String(string name)
    {
        if (Get(name) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.String) throw ApiException.Invalid(name, $"'{name}' must be a string, got {v.ValueKind}");
        return v.GetString();
    }

    public bool Bool(string name, bool fallback)
    {
        if (Get(name) is not { } v) return fallback;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw ApiException.Invalid(name, $"'{name}' must be a boolean, got {v.ValueKind}"),
        };
    }

    public double Number(string name, double fallback, double min, double max)
    {
        if (Get(name) is not { } v) return fallback;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out double d) || !double.IsFinite(d))
            throw ApiException.Invalid(name, $"'{name}' must be a number, got {v.ValueKind}");
        if (d < min || d > max) throw ApiException.Invalid(name, $"'{name}' must be between {min} and {max}, got {d}");
        return d;
    }

    public long Integer(string name, long fallback, long min, long max)
    {
        if (Get(name) is not { } v) return fallback;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out long n))
            throw ApiException.Invalid(name, $"'{name}' must be an integer, got {(v.ValueKind == JsonValueKind.Number ? v.GetRawText() : v.ValueKind.ToString())}");
        if (n < min || n > max) throw ApiException.Invalid(name, $"'{name}' must be between {min} and {max}, got {n}");
        return n;
    }

    /// <summary>"stop": a string or an array of up to 4 strings.</summary>
    public IReadOnlyList<string> Stops(string name = "stop")
    {
        if (Get(name) is not { } v) return [];
        if (v.ValueKind == JsonValueKind.String) return [v.GetString()!];
        if (v.ValueKind != JsonValueKind.Array) throw ApiException.Invalid(name, $"'{name}' must be a string or an array of strings");
        var list = new List<string>();
        foreach (var e in v.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.String) throw ApiException.Invalid(name, $"'{name}' must be a string or an array of strings");
            list.Add(e.GetString()!);
        }
        if (list.Count > 4) throw ApiException.Invalid(name, $"'{name}' may hold at most 4 sequences, got {list.Count}");
        return list;
    }
}
