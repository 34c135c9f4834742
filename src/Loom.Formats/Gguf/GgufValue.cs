using System.Globalization;

namespace Loom.Formats;

/// <summary>GGUF metadata value types, with their on-disk ids.</summary>
public enum GgufValueType : uint
{
    UInt8 = 0, Int8 = 1, UInt16 = 2, Int16 = 3, UInt32 = 4, Int32 = 5, Float32 = 6, Bool = 7, String = 8, Array = 9,
    UInt64 = 10, Int64 = 11, Float64 = 12,
}

/// <summary>
/// One typed GGUF metadata value: a scalar (boxed byte, sbyte, ushort, short, uint, int, float, bool, string, ulong,
/// long or double) or an array of one scalar type (a typed .NET array such as int[] or string[]; arrays do not nest).
/// </summary>
public sealed class GgufValue : IEquatable<GgufValue>
{
    /// <summary>The value's type.</summary>
    public GgufValueType Type { get; }

    /// <summary>For arrays, the element type; otherwise the same as <see cref="Type"/>.</summary>
    public GgufValueType ElementType { get; }

    /// <summary>The boxed scalar or the typed array.</summary>
    public object Value { get; }

    private GgufValue(GgufValueType type, GgufValueType elementType, object value)
    {
        Type = type;
        ElementType = elementType;
        Value = value;
    }

    public static GgufValue UInt8(byte v) => new(GgufValueType.UInt8, GgufValueType.UInt8, v);
    public static GgufValue Int8(sbyte v) => new(GgufValueType.Int8, GgufValueType.Int8, v);
    public static GgufValue UInt16(ushort v) => new(GgufValueType.UInt16, GgufValueType.UInt16, v);
    public static GgufValue Int16(short v) => new(GgufValueType.Int16, GgufValueType.Int16, v);
    public static GgufValue UInt32(uint v) => new(GgufValueType.UInt32, GgufValueType.UInt32, v);
    public static GgufValue Int32(int v) => new(GgufValueType.Int32, GgufValueType.Int32, v);
    public static GgufValue Float32(float v) => new(GgufValueType.Float32, GgufValueType.Float32, v);
    public static GgufValue Bool(bool v) => new(GgufValueType.Bool, GgufValueType.Bool, v);
    public static GgufValue String(string v) => new(GgufValueType.String, GgufValueType.String, v ?? throw new ArgumentNullException(nameof(v)));
    public static GgufValue UInt64(ulong v) => new(GgufValueType.UInt64, GgufValueType.UInt64, v);
    public static GgufValue Int64(long v) => new(GgufValueType.Int64, GgufValueType.Int64, v);
    public static GgufValue Float64(double v) => new(GgufValueType.Float64, GgufValueType.Float64, v);

    /// <summary>An array value; <paramref name="values"/> must be the .NET array type of <paramref name="elementType"/>.</summary>
    public static GgufValue Array(GgufValueType elementType, System.Array values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (elementType == GgufValueType.Array) throw new ArgumentException("GGUF arrays of arrays are not supported");
        if (values.GetType() != ClrArrayType(elementType))
            throw new ArgumentException($"an array of {elementType} needs a {ClrArrayType(elementType).Name}, not a {values.GetType().Name}");
        if (values is string[] s && s.Any(x => x is null)) throw new ArgumentException("null string in a GGUF string array");
        return new GgufValue(GgufValueType.Array, elementType, values);
    }

    public static GgufValue Array(string[] values) => Array(GgufValueType.String, values);
    public static GgufValue Array(int[] values) => Array(GgufValueType.Int32, values);
    public static GgufValue Array(float[] values) => Array(GgufValueType.Float32, values);

    internal static Type ClrArrayType(GgufValueType t) => t switch
    {
        GgufValueType.UInt8 => typeof(byte[]),
        GgufValueType.Int8 => typeof(sbyte[]),
        GgufValueType.UInt16 => typeof(ushort[]),
        GgufValueType.Int16 => typeof(short[]),
        GgufValueType.UInt32 => typeof(uint[]),
        GgufValueType.Int32 => typeof(int[]),
        GgufValueType.Float32 => typeof(float[]),
        GgufValueType.Bool => typeof(bool[]),
        GgufValueType.String => typeof(string[]),
        GgufValueType.UInt64 => typeof(ulong[]),
        GgufValueType.Int64 => typeof(long[]),
        GgufValueType.Float64 => typeof(double[]),
        _ => throw new ArgumentException($"no array type for {t}"),
    };

    /// <summary>Size in bytes of a fixed-size scalar type, or 0 for strings and arrays.</summary>
    internal static int FixedSize(GgufValueType t) => t switch
    {
        GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
        GgufValueType.UInt16 or GgufValueType.Int16 => 2,
        GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
        GgufValueType.UInt64 or GgufValueType.Int64 or GgufValueType.Float64 => 8,
        _ => 0,
    };

    public bool IsArray => Type == GgufValueType.Array;

    /// <summary>Number of elements of an array value (0 for a scalar).</summary>
    public int ArrayLength => Value is System.Array a && IsArray ? a.Length : 0;

    /// <summary>The string of a string value.</summary>
    public string AsString() => Value as string ?? throw new InvalidOperationException($"GGUF value is {Type}, not String");

    /// <summary>The value of any integer scalar as a long (a UInt64 above long.MaxValue throws).</summary>
    public long AsInt64() => Value switch
    {
        byte v => v, sbyte v => v, ushort v => v, short v => v, uint v => v, int v => v, long v => v,
        ulong v => v <= long.MaxValue ? (long)v : throw new OverflowException($"GGUF value {v} does not fit a long"),
        _ => throw new InvalidOperationException($"GGUF value is {Type}, not an integer"),
    };

    /// <summary>The elements of an array value of element type T (e.g. string[] for a string array).</summary>
    public T[] AsArray<T>() => IsArray && Value is T[] a ? a : throw new InvalidOperationException($"GGUF value is {Describe()}, not an array of {typeof(T).Name}");

    /// <summary>"String", "Array<Int32>[12]" and so on.</summary>
    public string Describe() => IsArray ? $"Array<{ElementType}>[{ArrayLength}]" : Type.ToString();

    /// <summary>A short human-readable form; long arrays and strings are elided.</summary>
    public override string ToString()
    {
        static string One(object o) => o switch
        {
            string s => s.Length > 60 ? $"\"{s[..60]}...\"" : $"\"{s}\"",
            float f => f.ToString("R", CultureInfo.InvariantCulture),
            double d => d.ToString("R", CultureInfo.InvariantCulture),
            bool b => b ? "true" : "false",
            _ => Convert.ToString(o, CultureInfo.InvariantCulture) ?? "",
        };
        if (!IsArray) return One(Value);
        var a = (System.Array)Value;
        var head = a.Cast<object>().Take(4).Select(One);
        return $"[{string.Join(", ", head)}{(a.Length > 4 ? $", ... ({a.Length} items)" : "")}]";
    }

    public bool Equals(GgufValue? other)
    {
        if (other is null || other.Type != Type || other.ElementType != ElementType) return false;
        if (!IsArray) return Value.Equals(other.Value);
        var a = (System.Array)Value;
        var b = (System.Array)other.Value;
        if (a.Length != b.Length) return false;
        for (int i = 0; i < a.Length; i++)
            if (!Equals(a.GetValue(i), b.GetValue(i))) return false;
        return true;
    }

    public override bool Equals(object? obj) => Equals(obj as GgufValue);

    public override int GetHashCode() => IsArray ? HashCode.Combine(Type, ElementType, ArrayLength) : HashCode.Combine(Type, Value);
}
