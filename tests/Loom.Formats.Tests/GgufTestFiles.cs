using System.Text;
using Loom.Formats;
using Loom.Tensors;

namespace Loom.Formats.Tests;

/// <summary>Builds GGUF files byte by byte, so tests can write fields no well-behaved writer would.</summary>
internal sealed class RawGguf
{
    private readonly MemoryStream _ms = new();
    public BinaryWriter W { get; }

    public RawGguf(uint version = 3, ulong tensors = 0, ulong kvs = 0, uint magic = GgufFile.Magic)
    {
        W = new BinaryWriter(_ms);
        W.Write(magic);
        W.Write(version);
        W.Write(tensors);
        W.Write(kvs);
    }

    public RawGguf Str(string s) { var b = Encoding.UTF8.GetBytes(s); W.Write((ulong)b.Length); W.Write(b); return this; }
    public RawGguf U32(uint v) { W.Write(v); return this; }
    public RawGguf U64(ulong v) { W.Write(v); return this; }
    public RawGguf Bytes(params byte[] b) { W.Write(b); return this; }

    /// <summary>A tensor info: name, dims, type, offset.</summary>
    public RawGguf Tensor(string name, ulong[] dims, uint type, ulong offset)
    {
        Str(name).U32((uint)dims.Length);
        foreach (var d in dims) U64(d);
        return U32(type).U64(offset);
    }

    /// <summary>Zero padding up to the alignment, then <paramref name="dataBytes"/> zero bytes of data.</summary>
    public byte[] Data(int dataBytes, int alignment = 32)
    {
        W.Flush();
        while (_ms.Length % alignment != 0) _ms.WriteByte(0);
        _ms.Write(new byte[dataBytes]);
        return _ms.ToArray();
    }

    public byte[] ToArray() { W.Flush(); return _ms.ToArray(); }
}

internal static class GgufSamples
{
    /// <summary>Every scalar type, every array element type (one empty array too), as key -> value.</summary>
    public static List<KeyValuePair<string, GgufValue>> AllValues() =>
    [
        new("u8", GgufValue.UInt8(250)),
        new("i8", GgufValue.Int8(-7)),
        new("u16", GgufValue.UInt16(65000)),
        new("i16", GgufValue.Int16(-30000)),
        new("u32", GgufValue.UInt32(4_000_000_000)),
        new("i32", GgufValue.Int32(-2_000_000_000)),
        new("f32", GgufValue.Float32(3.25f)),
        new("bool.t", GgufValue.Bool(true)),
        new("bool.f", GgufValue.Bool(false)),
        new("str", GgufValue.String("héllo, 世界")),
        new("str.empty", GgufValue.String("")),
        new("u64", GgufValue.UInt64(ulong.MaxValue - 1)),
        new("i64", GgufValue.Int64(long.MinValue + 3)),
        new("f64", GgufValue.Float64(-1e300)),
        new("a.u8", GgufValue.Array(GgufValueType.UInt8, new byte[] { 1, 2, 255 })),
        new("a.i8", GgufValue.Array(GgufValueType.Int8, new sbyte[] { -1, 2 })),
        new("a.u16", GgufValue.Array(GgufValueType.UInt16, new ushort[] { 1, 65535 })),
        new("a.i16", GgufValue.Array(GgufValueType.Int16, new short[] { -1, 3 })),
        new("a.u32", GgufValue.Array(GgufValueType.UInt32, new uint[] { 7, uint.MaxValue })),
        new("a.i32", GgufValue.Array(new[] { -5, 0, 5 })),
        new("a.f32", GgufValue.Array(new[] { 0.5f, float.NaN, -0f })),
        new("a.bool", GgufValue.Array(GgufValueType.Bool, new[] { true, false, true })),
        new("a.str", GgufValue.Array(new[] { "<s>", "", "ünïcode", "▁the" })),
        new("a.u64", GgufValue.Array(GgufValueType.UInt64, new ulong[] { ulong.MaxValue })),
        new("a.i64", GgufValue.Array(GgufValueType.Int64, new long[] { long.MinValue, 1 })),
        new("a.f64", GgufValue.Array(GgufValueType.Float64, new[] { Math.PI })),
        new("a.empty", GgufValue.Array(GgufValueType.Int32, Array.Empty<int>())),
    ];

    /// <summary>A small valid model-like file: metadata, an F32 and an F16 tensor, and a Q8_0 block tensor.</summary>
    public static byte[] Small(string dir)
    {
        string p = Path.Combine(dir, $"small-{Guid.NewGuid():N}.gguf");
        var w = new GgufWriter();
        w.Add("general.architecture", GgufValue.String("llama"));
        w.Add("llama.context_length", GgufValue.UInt32(128));
        w.Add("tokenizer.ggml.tokens", GgufValue.Array(new[] { "a", "b", "c" }));
        w.Add("tokenizer.ggml.scores", GgufValue.Array(new[] { 0f, 1f, 2f }));
        using var a = Loom.Tensors.Tensor.FromArray([1, 2, 3, 4, 5, 6], 2, 3);
        using var h = a.ToDType(DType.F16);
        w.AddTensor("a", a);
        w.AddTensor("h", h);
        w.AddTensor("q", [32, 2], GgmlTypes.Q8_0, Enumerable.Range(0, 68).Select(i => (byte)i).ToArray());
        w.Save(p);
        var bytes = File.ReadAllBytes(p);
        File.Delete(p);
        return bytes;
    }
}
