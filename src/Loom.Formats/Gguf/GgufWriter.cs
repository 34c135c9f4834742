using System.Buffers.Binary;
using System.Text;
using Loom.Tensors;

namespace Loom.Formats;

/// <summary>
/// Builds a GGUF version 3 file: metadata of every value type, F32/F16/BF16 Loom tensors, and raw bytes of any known
/// ggml type (quantized blocks as they are); the data section and each tensor are aligned, and the file is written atomically.
/// </summary>
public sealed class GgufWriter
{
    private readonly List<KeyValuePair<string, GgufValue>> _meta = [];
    private readonly List<(string Name, long[] Dims, GgmlTypeInfo Type, long Bytes, Tensor? Tensor, byte[]? Raw)> _tensors = [];

    /// <summary>Alignment of the data section and tensors; a value other than 32 is recorded as `general.alignment`.</summary>
    public int Alignment { get; }

    public GgufWriter(int alignment = GgufFile.DefaultAlignment)
    {
        if (alignment <= 0 || (alignment & (alignment - 1)) != 0) throw new ArgumentException($"alignment {alignment} is not a power of two");
        Alignment = alignment;
    }

    /// <summary>Adds a metadata key (keys must be unique; `general.alignment` is managed by the writer).</summary>
    public GgufWriter Add(string key, GgufValue value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (key == "general.alignment") throw new ArgumentException("set the alignment with the constructor");
        if (_meta.Any(kv => kv.Key == key)) throw new ArgumentException($"metadata key '{key}' added twice");
        _meta.Add(new(key, value));
        return this;
    }

    /// <summary>Adds an F32, F16 or BF16 tensor; its row-major shape is stored reversed (GGUF dims[0] is innermost).</summary>
    public GgufWriter AddTensor(string name, Tensor tensor)
    {
        uint id = tensor.DType switch
        {
            DType.F32 => GgmlTypes.F32,
            DType.F16 => GgmlTypes.F16,
            DType.BF16 => GgmlTypes.BF16,
            var d => throw new ArgumentException($"tensor '{name}': GGUF writing supports F32, F16 and BF16, not {DTypeInfo.Name(d)}"),
        };
        var dims = tensor.Shape.Reverse().Select(d => (long)d).ToArray();
        if (dims.Length == 0) dims = [1];
        return AddCore(name, dims, GgmlTypes.Get(id), tensor, null);
    }

    /// <summary>Adds raw tensor bytes of ggml type <paramref name="typeId"/>; dims in GGUF order (dims[0] innermost).</summary>
    public GgufWriter AddTensor(string name, long[] dims, uint typeId, byte[] data) =>
        AddCore(name, dims, GgmlTypes.Get(typeId), null, data);

    private GgufWriter AddCore(string name, long[] dims, GgmlTypeInfo type, Tensor? tensor, byte[]? raw)
    {
        if (_tensors.Any(t => t.Name == name)) throw new ArgumentException($"tensor '{name}' added twice");
        if (dims.Length is 0 or > GgufFile.MaxDims) throw new ArgumentException($"tensor '{name}': {dims.Length} dims, expected 1..{GgufFile.MaxDims}");
        if (dims.Any(d => d < 0)) throw new ArgumentException($"tensor '{name}': negative dimension");
        if (dims[0] % type.BlockElements != 0) throw new ArgumentException($"tensor '{name}': dims[0] = {dims[0]} is not a multiple of the {type.Name} block size {type.BlockElements}");
        long count = 1;
        foreach (long d in dims) count = checked(count * d);
        long bytes = GgmlTypes.ByteSize(type, count);
        if (raw != null && raw.Length != bytes) throw new ArgumentException($"tensor '{name}': {raw.Length} bytes given, {type.Name} of dims [{string.Join(", ", dims)}] needs {bytes}");
        _tensors.Add((name, (long[])dims.Clone(), type, bytes, tensor, raw));
        return this;
    }

    /// <summary>Writes the file atomically (through a temporary sibling and a rename).</summary>
    public unsafe void Save(string path)
    {
        var meta = new List<KeyValuePair<string, GgufValue>>(_meta);
        if (Alignment != GgufFile.DefaultAlignment) meta.Insert(0, new("general.alignment", GgufValue.UInt32((uint)Alignment)));
        AtomicFile.Write(path, s =>
        {
            var w = new BinaryWriter(s, Encoding.UTF8, leaveOpen: true);
            w.Write(GgufFile.Magic);
            w.Write(3u);
            w.Write((ulong)_tensors.Count);
            w.Write((ulong)meta.Count);
            foreach (var (k, v) in meta)
            {
                WriteString(w, k);
                w.Write((uint)v.Type);
                WriteValue(w, v);
            }
            long offset = 0;
            var offsets = new long[_tensors.Count];
            for (int i = 0; i < _tensors.Count; i++)
            {
                var t = _tensors[i];
                WriteString(w, t.Name);
                w.Write((uint)t.Dims.Length);
                foreach (long d in t.Dims) w.Write((ulong)d);
                w.Write(t.Type.Id);
                w.Write((ulong)offset);
                offsets[i] = offset;
                offset = Align(offset + t.Bytes);
            }
            w.Flush();
            long pos = s.Position;
            Pad(s, Align(pos) - pos);
            for (int i = 0; i < _tensors.Count; i++)
            {
                var t = _tensors[i];
                if (t.Raw != null) s.Write(t.Raw);
                else
                {
                    using var c = t.Tensor!.Contiguous();
                    byte* src = c.RawData;
                    for (long o = 0; o < t.Bytes; o += 1 << 30)
                        s.Write(new ReadOnlySpan<byte>(src + o, (int)Math.Min(1 << 30, t.Bytes - o)));
                }
                if (i + 1 < _tensors.Count) Pad(s, offsets[i + 1] - offsets[i] - t.Bytes);
            }
        });
    }

    private long Align(long x) => (x + Alignment - 1) / Alignment * Alignment;

    private static void Pad(Stream s, long n)
    {
        for (long i = 0; i < n; i++) s.WriteByte(0);
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)b.Length);
        w.Write(b);
    }

    private static void WriteValue(BinaryWriter w, GgufValue v)
    {
        if (v.Value is Array a)
        {
            w.Write((uint)v.ElementType);
            w.Write((ulong)a.Length);
            foreach (var e in a) WriteScalar(w, e!);
        }
        else WriteScalar(w, v.Value);
    }

    /// <summary>One scalar in its GGUF encoding (the type tag is written by the caller).</summary>
    private static void WriteScalar(BinaryWriter w, object value)
    {
        switch (value)
        {
            case byte x: w.Write(x); break;
            case sbyte x: w.Write(x); break;
            case ushort x: w.Write(x); break;
            case short x: w.Write(x); break;
            case uint x: w.Write(x); break;
            case int x: w.Write(x); break;
            case float x: w.Write(x); break;
            case bool x: w.Write((byte)(x ? 1 : 0)); break;
            case string x: WriteString(w, x); break;
            case ulong x: w.Write(x); break;
            case long x: w.Write(x); break;
            case double x: w.Write(x); break;
            default: throw new InvalidOperationException($"cannot write a {value.GetType().Name}");
        }
    }
}
