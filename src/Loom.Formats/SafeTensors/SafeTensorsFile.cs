using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Loom.Tensors;

namespace Loom.Formats;

/// <summary>
/// Reads and writes the Hugging Face safetensors format: an 8-byte little-endian header length, a JSON
/// header (name -> dtype, shape, data_offsets; optional "__metadata__" of strings), then raw tensor bytes.
/// Reads are memory-mapped (copy-on-write); every header field is validated before any tensor is created.
/// </summary>
public sealed class SafeTensorsFile : IDisposable
{
    /// <summary>Headers larger than this are rejected (the reference implementation uses 100 MB).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private readonly MappedFile? _map;

    public string Path { get; }
    public IReadOnlyDictionary<string, Tensor> Tensors { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    private SafeTensorsFile(string path, MappedFile? map, Dictionary<string, Tensor> tensors, Dictionary<string, string> metadata)
    {
        Path = path;
        _map = map;
        Tensors = tensors;
        Metadata = metadata;
    }

    /// <summary>Opens and validates a file; tensors view the mapped file (no copy).</summary>
    public static unsafe SafeTensorsFile Open(string path)
    {
        if (!File.Exists(path)) throw new ModelFileException(path, "file not found");
        MappedFile map;
        try { map = new MappedFile(path); }
        catch (ModelFileException) { throw; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new ModelFileException(path, "cannot open: " + e.Message, e); }
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            var header = ParseHeader(path, map.Pointer, map.Length, out long dataStart);
            foreach (var e in header.Entries)
            {
                var storage = Storage.FromExternal(map.Pointer + dataStart + e.Begin, e.End - e.Begin, map.Lease());
                tensors[e.Name] = Tensor.FromStorage(storage, e.DType, e.Shape);
            }
            return new SafeTensorsFile(path, map, tensors, header.Metadata);
        }
        catch
        {
            foreach (var t in tensors.Values) t.Dispose();
            map.Dispose();
            throw;
        }
    }

    /// <summary>Loads every tensor into its own pooled memory (the file is closed afterwards).</summary>
    public static Dictionary<string, Tensor> Load(string path, out IReadOnlyDictionary<string, string> metadata)
    {
        using var f = Open(path);
        metadata = f.Metadata;
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        using (TensorScope.Suspend())
            foreach (var (k, v) in f.Tensors) result[k] = v.Clone();
        return result;
    }

    public static Dictionary<string, Tensor> Load(string path) => Load(path, out _);

    public void Dispose()
    {
        foreach (var t in Tensors.Values) t.Dispose();
        _map?.Dispose();
    }

    internal readonly record struct Entry(string Name, DType DType, int[] Shape, long Begin, long End);

    internal sealed record Header(List<Entry> Entries, Dictionary<string, string> Metadata);

    internal static unsafe Header ParseHeader(string path, byte* p, long fileLength, out long dataStart)
    {
        if (fileLength < 8) throw new ModelFileException(path, $"truncated: {fileLength} bytes is too short for a safetensors header");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(p, 8));
        if (n > MaxHeaderBytes) throw new ModelFileException(path, $"header length {n} exceeds the {MaxHeaderBytes}-byte limit (corrupt or not a safetensors file)");
        if ((long)n > fileLength - 8) throw new ModelFileException(path, $"truncated: header claims {n} bytes but the file has {fileLength - 8} after the length field");
        dataStart = 8 + (long)n;
        long dataLength = fileLength - dataStart;
        var headerBytes = new ReadOnlySpan<byte>(p + 8, (int)n);
        // JsonDocument checks UTF-8 inside strings only when they are read (InvalidOperationException), so check it all here.
        if (!System.Text.Unicode.Utf8.IsValid(headerBytes)) throw new ModelFileException(path, "header is not valid UTF-8");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(new ReadOnlyMemory<byte>(headerBytes.ToArray()), new JsonDocumentOptions { MaxDepth = 8 }); }
        catch (JsonException e) { throw new ModelFileException(path, "header is not valid JSON: " + e.Message, e); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new ModelFileException(path, "header is not a JSON object");
            var entries = new List<Entry>();
            var meta = new Dictionary<string, string>(StringComparer.Ordinal);
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (prop.Name == "__metadata__")
                {
                    if (prop.Value.ValueKind != JsonValueKind.Object) throw new ModelFileException(path, "__metadata__ is not an object");
                    foreach (var m in prop.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String) throw new ModelFileException(path, $"__metadata__ value '{m.Name}' is not a string");
                        meta[m.Name] = m.Value.GetString()!;
                    }
                    continue;
                }
                // JSON allows repeated keys; a second entry would silently replace (and leak) the first.
                if (!names.Add(prop.Name)) throw new ModelFileException(path, $"tensor '{prop.Name}' appears more than once in the header");
                entries.Add(ParseEntry(path, prop, dataLength));
            }
            // Tensors must not overlap (a hostile file could alias them).
            var sorted = entries.OrderBy(e => e.Begin).ToList();
            for (int i = 1; i < sorted.Count; i++)
                if (sorted[i].Begin < sorted[i - 1].End)
                    throw new ModelFileException(path, $"tensors '{sorted[i - 1].Name}' and '{sorted[i].Name}' overlap");
            return new Header(entries, meta);
        }
    }

    private static Entry ParseEntry(string path, JsonProperty prop, long dataLength)
    {
        string name = prop.Name;
        var v = prop.Value;
        if (v.ValueKind != JsonValueKind.Object) throw new ModelFileException(path, $"tensor '{name}': entry is not an object");
        if (!v.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String) throw new ModelFileException(path, $"tensor '{name}': missing dtype");
        DType dtype = dt.GetString() switch
        {
            "F32" => DType.F32,
            "F16" => DType.F16,
            "BF16" => DType.BF16,
            var other => throw new ModelFileException(path, $"tensor '{name}': unsupported dtype '{other}' (Loom reads F32, F16 and BF16)"),
        };
        if (!v.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array) throw new ModelFileException(path, $"tensor '{name}': missing shape");
        if (sh.GetArrayLength() > 8) throw new ModelFileException(path, $"tensor '{name}': rank {sh.GetArrayLength()} is too large");
        var shape = new int[sh.GetArrayLength()];
        long count = 1;
        int i = 0;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long dim) || dim < 0 || dim > int.MaxValue)
                throw new ModelFileException(path, $"tensor '{name}': invalid dimension {d}");
            shape[i++] = (int)dim;
            // Compare before multiplying: the product of hostile dimensions can overflow a long.
            if (dim != 0 && count > dataLength / dim) throw new ModelFileException(path, $"tensor '{name}': shape [{string.Join(", ", shape.Take(i))}...] needs more data than the file holds");
            count *= dim;
        }
        if (!v.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw new ModelFileException(path, $"tensor '{name}': missing data_offsets");
        // TryGetInt64 throws on a non-number, so check the kind first.
        long begin = off[0].ValueKind == JsonValueKind.Number && off[0].TryGetInt64(out long b) ? b : -1;
        long end = off[1].ValueKind == JsonValueKind.Number && off[1].TryGetInt64(out long e) ? e : -1;
        if (begin < 0 || end < begin) throw new ModelFileException(path, $"tensor '{name}': invalid data_offsets [{off[0]}, {off[1]}]");
        if (end > dataLength) throw new ModelFileException(path, $"tensor '{name}': data_offsets end {end} is past the end of the data ({dataLength} bytes; file truncated?)");
        long expected = count * DTypeInfo.SizeOf(dtype);
        if (end - begin != expected) throw new ModelFileException(path, $"tensor '{name}': {end - begin} bytes of data for shape ({string.Join(", ", shape)}) of {DTypeInfo.Name(dtype)}, expected {expected}");
        return new Entry(name, dtype, shape, begin, end);
    }

    /// <summary>Writes tensors (F32, F16 or BF16 as stored) atomically, names sorted, data 8-byte aligned.</summary>
    public static unsafe void Save(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var names = tensors.Keys.OrderBy(k => k, StringComparer.Ordinal).ToList();
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) w.WriteString(k, v);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var name in names)
            {
                var t = tensors[name];
                long bytes = t.Length * DTypeInfo.SizeOf(t.DType);
                w.WriteStartObject(name);
                w.WriteString("dtype", DTypeInfo.Name(t.DType));
                w.WriteStartArray("shape");
                foreach (int d in t.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + bytes);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += bytes;
            }
            w.WriteEndObject();
        }
        var header = ms.ToArray();
        int pad = (8 - header.Length % 8) % 8;
        AtomicFile.Write(path, s =>
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)(header.Length + pad));
            s.Write(len);
            s.Write(header);
            for (int i = 0; i < pad; i++) s.WriteByte((byte)' ');
            foreach (var name in names)
            {
                var t = tensors[name];
                using var c = t.Contiguous();
                long bytes = c.Length * DTypeInfo.SizeOf(c.DType);
                byte* src = c.RawData;
                for (long o = 0; o < bytes; o += 1 << 30)
                    s.Write(new ReadOnlySpan<byte>(src + o, (int)Math.Min(1 << 30, bytes - o)));
            }
        });
    }
}
