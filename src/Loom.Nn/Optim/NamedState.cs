using System.Globalization;
using Loom.Tensors;

namespace Loom.Nn;

/// <summary>
/// Named tensors plus named string scalars: the state of an optimizer or an EMA as a checkpoint stores it.
/// Tensors are the live state (not copies); scalars use invariant, round-trippable text.
/// </summary>
public sealed class NamedState
{
    public Dictionary<string, Tensor> Tensors { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, string> Scalars { get; } = new(StringComparer.Ordinal);

    public void Set(string key, double value) => Scalars[key] = value.ToString("R", CultureInfo.InvariantCulture);

    public void Set(string key, long value) => Scalars[key] = value.ToString(CultureInfo.InvariantCulture);

    public void Set(string key, string value) => Scalars[key] = value;

    public string GetString(string key) =>
        Scalars.TryGetValue(key, out var s) ? s : throw new KeyNotFoundException($"state has no scalar '{key}'");

    public double GetDouble(string key)
    {
        var s = GetString(key);
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
            throw new FormatException($"state scalar '{key}' = '{s}' is not a number");
        return v;
    }

    public long GetLong(string key)
    {
        var s = GetString(key);
        if (!long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v))
            throw new FormatException($"state scalar '{key}' = '{s}' is not an integer");
        return v;
    }

    /// <summary>
    /// Checks that <paramref name="incoming"/> has exactly the tensors of this state with the same shapes and
    /// F32 data; <paramref name="owner"/> names the state in messages. Throws <see cref="ArgumentException"/>.
    /// </summary>
    public void CheckTensorsMatch(NamedState incoming, string owner)
    {
        foreach (var (name, mine) in Tensors)
        {
            if (!incoming.Tensors.TryGetValue(name, out var t))
                throw new ArgumentException($"{owner} state is missing tensor '{name}'");
            if (!Tensor.SameShape(t.Shape, mine.Shape))
                throw new ArgumentException($"{owner} state tensor '{name}' has shape {Tensor.ShapeString(t.Shape)}, expected {Tensor.ShapeString(mine.Shape)}");
            if (t.DType != DType.F32)
                throw new ArgumentException($"{owner} state tensor '{name}' is {DTypeInfo.Name(t.DType)}, expected F32");
        }
        foreach (var name in incoming.Tensors.Keys)
            if (!Tensors.ContainsKey(name)) throw new ArgumentException($"{owner} state has unexpected tensor '{name}'");
    }
}
