using System.Buffers.Binary;
using System.Text;
using Loom.Tensors;

namespace Loom.Formats;

/// <summary>
/// One tensor of a GGUF file. <see cref="Dims"/> is in GGUF order (dims[0] is the innermost, fastest-varying
/// axis); <see cref="Offset"/> is relative to the data section and <see cref="FileOffset"/> is absolute.
/// </summary>
public sealed record GgufTensorInfo(string Name, long[] Dims, GgmlTypeInfo Type, long Offset, long FileOffset, long ElementCount, long ByteSize)
{
    /// <summary>The shape in row-major (outermost-first) order, as Loom and PyTorch write it.</summary>
    public long[] RowMajorShape => Dims.Reverse().ToArray();
}

/// <summary>
/// Reads the GGUF format of ggml/llama.cpp (versions 2 and 3, little-endian): header, typed metadata, tensor infos,
/// then aligned tensor data. The file is memory-mapped and every field is bounds-checked against the file size
/// before it is used, so a hostile file gives a <see cref="ModelFileException"/> rather than a huge allocation or a hang.
/// </summary>
public sealed unsafe class GgufFile : IDisposable
{
    /// <summary>"GGUF" read as a little-endian u32.</summary>
    public const uint Magic = 0x46554747;

    /// <summary>Alignment of the data section and tensor offsets when `general.alignment` is absent.</summary>
    public const int DefaultAlignment = 32;

    /// <summary>GGML_MAX_DIMS: the most dimensions a tensor may have.</summary>
    public const int MaxDims = 4;

    private readonly MappedFile _map;

    public string Path { get; }
    public uint Version { get; }
    public int Alignment { get; }

    /// <summary>Absolute file offset of the data section.</summary>
    public long DataStart { get; }

    /// <summary>Metadata keys in file order with their typed values.</summary>
    public IReadOnlyDictionary<string, GgufValue> Metadata { get; }

    /// <summary>Tensors in file order.</summary>
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }

    private readonly Dictionary<string, GgufTensorInfo> _byName;

    private GgufFile(string path, MappedFile map, uint version, int alignment, long dataStart, Dictionary<string, GgufValue> meta, List<GgufTensorInfo> tensors)
    {
        Path = path;
        _map = map;
        Version = version;
        Alignment = alignment;
        DataStart = dataStart;
        Metadata = meta;
        Tensors = tensors;
        _byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>Opens and validates a GGUF file.</summary>
    public static GgufFile Open(string path)
    {
        if (!File.Exists(path)) throw new ModelFileException(path, "file not found");
        MappedFile map;
        try { map = new MappedFile(path); }
        catch (ModelFileException) { throw; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new ModelFileException(path, "cannot open: " + e.Message, e); }
        try
        {
            var r = new Reader(path, map.Pointer, map.Length);
            return Parse(path, map, ref r);
        }
        catch
        {
            map.Dispose();
            throw;
        }
    }

    /// <summary>The tensor with this name, or null.</summary>
    public GgufTensorInfo? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>The raw bytes of a tensor (a view of the mapped file; valid until this file is disposed).</summary>
    public ReadOnlySpan<byte> Bytes(GgufTensorInfo t)
    {
        if (!_byName.TryGetValue(t.Name, out var own) || !ReferenceEquals(own, t)) throw new ArgumentException($"tensor '{t.Name}' is not from {Path}");
        if (t.ByteSize > int.MaxValue) throw new InvalidOperationException($"tensor '{t.Name}' is {t.ByteSize} bytes, too large for a span; use Tensor()");
        return new ReadOnlySpan<byte>(_map.Pointer + t.FileOffset, (int)t.ByteSize);
    }

    /// <summary>An F32, F16 or BF16 tensor as a Loom tensor in row-major shape, viewing the mapped file (no copy).</summary>
    public Tensor Tensor(string name)
    {
        var t = Find(name) ?? throw new KeyNotFoundException($"{Path}: no tensor '{name}'");
        DType dtype = t.Type.Id switch
        {
            GgmlTypes.F32 => DType.F32,
            GgmlTypes.F16 => DType.F16,
            GgmlTypes.BF16 => DType.BF16,
            _ => throw new NotSupportedException($"{Path}: tensor '{name}' is {t.Type.Name}; only F32, F16 and BF16 load as Loom tensors"),
        };
        var shape = t.RowMajorShape;
        if (shape.Any(d => d > int.MaxValue)) throw new NotSupportedException($"{Path}: tensor '{name}' has a dimension above {int.MaxValue}");
        var storage = Storage.FromExternal(_map.Pointer + t.FileOffset, t.ByteSize, _map.Lease());
        return Loom.Tensors.Tensor.FromStorage(storage, dtype, shape.Select(d => (int)d).ToArray());
    }

    /// <summary>A metadata value, or null when the key is absent.</summary>
    public GgufValue? Get(string key) => Metadata.GetValueOrDefault(key);

    public void Dispose() => _map.Dispose();

    private static GgufFile Parse(string path, MappedFile map, ref Reader r)
    {
        long fileLength = map.Length;
        if (fileLength < 4) throw new ModelFileException(path, $"truncated: {fileLength} bytes is too short for a GGUF header");
        uint magic = r.U32("magic");
        if (magic != Magic)
        {
            var m = new ReadOnlySpan<byte>(map.Pointer, 4).ToArray();
            throw new ModelFileException(path, $"not a GGUF file: magic bytes {Convert.ToHexString(m)}, expected 47475546 (\"GGUF\")");
        }
        uint version = r.U32("version");
        if (version is not (2 or 3)) throw new ModelFileException(path, $"unsupported GGUF version {version} (Loom reads versions 2 and 3)");
        ulong tensorCount = r.U64("tensor_count");
        ulong kvCount = r.U64("metadata_kv_count");
        // Each KV takes at least 13 bytes (key length, value type, one byte) and each tensor info at least 24.
        if (kvCount > (ulong)(r.Remaining / 13)) throw new ModelFileException(path, $"metadata_kv_count {kvCount} is impossible for a file of {fileLength} bytes");
        if (tensorCount > (ulong)(r.Remaining / 24)) throw new ModelFileException(path, $"tensor_count {tensorCount} is impossible for a file of {fileLength} bytes");

        var meta = new Dictionary<string, GgufValue>(StringComparer.Ordinal);
        for (ulong i = 0; i < kvCount; i++)
        {
            string key = r.String($"metadata key #{i}");
            if (meta.ContainsKey(key)) throw new ModelFileException(path, $"metadata key '{key}' appears more than once");
            var type = (GgufValueType)r.U32($"metadata '{key}' type");
            meta[key] = ReadValue(ref r, type, $"metadata '{key}'");
        }

        int alignment = DefaultAlignment;
        if (meta.TryGetValue("general.alignment", out var av))
        {
            if (av.Type != GgufValueType.UInt32) throw new ModelFileException(path, $"metadata 'general.alignment' is {av.Describe()}, expected UInt32");
            uint a = (uint)av.Value;
            if (a == 0 || (a & (a - 1)) != 0 || a > 1 << 30) throw new ModelFileException(path, $"metadata 'general.alignment' {a} is not a power of two");
            alignment = (int)a;
        }

        var infos = new List<(string Name, long[] Dims, GgmlTypeInfo Type, long Offset, long Count, long Bytes)>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (ulong i = 0; i < tensorCount; i++)
        {
            string name = r.String($"tensor #{i} name");
            if (!names.Add(name)) throw new ModelFileException(path, $"tensor '{name}' appears more than once");
            uint nDims = r.U32($"tensor '{name}' n_dims");
            if (nDims == 0 || nDims > MaxDims) throw new ModelFileException(path, $"tensor '{name}': n_dims {nDims} is outside 1..{MaxDims}");
            var dims = new long[nDims];
            long count = 1;
            for (int d = 0; d < nDims; d++)
            {
                ulong dim = r.U64($"tensor '{name}' dims[{d}]");
                // Compare before multiplying: a product of hostile dimensions can overflow.
                if (dim > (ulong)fileLength * 256 || (dim != 0 && (ulong)count > (ulong)fileLength * 256 / dim))
                    throw new ModelFileException(path, $"tensor '{name}': dims [{string.Join(", ", dims.Take(d))}{(d > 0 ? ", " : "")}{dim}...] need more data than the file holds");
                dims[d] = (long)dim;
                count *= (long)dim;
            }
            uint typeId = r.U32($"tensor '{name}' type");
            if (!GgmlTypes.TryGet(typeId, out var type)) throw new ModelFileException(path, $"tensor '{name}': unknown or unsupported ggml type id {typeId}");
            if (dims[0] % type.BlockElements != 0)
                throw new ModelFileException(path, $"tensor '{name}': dims[0] = {dims[0]} is not a multiple of the {type.Name} block size {type.BlockElements}");
            long bytes = count / type.BlockElements * type.BlockBytes;   // count <= 256 * file length, so no overflow
            ulong offset = r.U64($"tensor '{name}' offset");
            if (offset > (ulong)fileLength) throw new ModelFileException(path, $"tensor '{name}': offset {offset} is past the end of the file");
            if (offset % (ulong)alignment != 0) throw new ModelFileException(path, $"tensor '{name}': offset {offset} is not a multiple of the alignment {alignment}");
            infos.Add((name, dims, type, (long)offset, count, bytes));
        }

        long dataStart = (r.Position + alignment - 1) / alignment * alignment;
        if (tensorCount > 0 && dataStart > fileLength)
            throw new ModelFileException(path, $"truncated: the data section would start at {dataStart} but the file has {fileLength} bytes");
        long dataLength = fileLength - Math.Min(dataStart, fileLength);
        var tensors = new List<GgufTensorInfo>(infos.Count);
        foreach (var (name, dims, type, offset, count, bytes) in infos)
        {
            if (offset > dataLength || bytes > dataLength - offset)
                throw new ModelFileException(path, $"tensor '{name}': bytes {offset}..{offset + bytes} of the data section run past its end ({dataLength} bytes; file truncated?)");
            tensors.Add(new GgufTensorInfo(name, dims, type, offset, dataStart + offset, count, bytes));
        }
        // Tensors must not overlap (a hostile file could alias them).
        var sorted = tensors.Where(t => t.ByteSize > 0).OrderBy(t => t.Offset).ToList();
        for (int i = 1; i < sorted.Count; i++)
            if (sorted[i].Offset < sorted[i - 1].Offset + sorted[i - 1].ByteSize)
                throw new ModelFileException(path, $"tensors '{sorted[i - 1].Name}' and '{sorted[i].Name}' overlap");
        return new GgufFile(path, map, version, alignment, dataStart, meta, tensors);
    }

    private static GgufValue ReadValue(ref Reader r, GgufValueType type, string field)
    {
        switch (type)
        {
            case GgufValueType.UInt8: return GgufValue.UInt8(r.Bytes(1, field)[0]);
            case GgufValueType.Int8: return GgufValue.Int8((sbyte)r.Bytes(1, field)[0]);
            case GgufValueType.UInt16: return GgufValue.UInt16(BinaryPrimitives.ReadUInt16LittleEndian(r.Bytes(2, field)));
            case GgufValueType.Int16: return GgufValue.Int16(BinaryPrimitives.ReadInt16LittleEndian(r.Bytes(2, field)));
            case GgufValueType.UInt32: return GgufValue.UInt32(r.U32(field));
            case GgufValueType.Int32: return GgufValue.Int32((int)r.U32(field));
            case GgufValueType.Float32: return GgufValue.Float32(BitConverter.UInt32BitsToSingle(r.U32(field)));
            case GgufValueType.Bool: return GgufValue.Bool(r.Bool(field));
            case GgufValueType.String: return GgufValue.String(r.String(field));
            case GgufValueType.UInt64: return GgufValue.UInt64(r.U64(field));
            case GgufValueType.Int64: return GgufValue.Int64((long)r.U64(field));
            case GgufValueType.Float64: return GgufValue.Float64(BitConverter.UInt64BitsToDouble(r.U64(field)));
            case GgufValueType.Array:
            {
                var et = (GgufValueType)r.U32(field + " element type");
                if (et == GgufValueType.Array) throw new ModelFileException(r.Path, $"{field}: arrays of arrays are not supported");
                if ((uint)et > (uint)GgufValueType.Float64) throw new ModelFileException(r.Path, $"{field}: unknown array element type {(uint)et}");
                ulong n = r.U64(field + " array length");
                int size = GgufValue.FixedSize(et);
                // A string takes at least its 8-byte length, so the count is bounded by the bytes left either way.
                long minBytes = size == 0 ? 8 : size;
                if (n > (ulong)(r.Remaining / minBytes) || n > int.MaxValue)
                    throw new ModelFileException(r.Path, $"{field}: array length {n} needs more bytes than the file has left ({r.Remaining})");
                int count = (int)n;
                string at(int i) => $"{field}[{i}]";
                switch (et)
                {
                    case GgufValueType.String:
                    {
                        var a = new string[count];
                        for (int i = 0; i < count; i++) a[i] = r.String(at(i));
                        return GgufValue.Array(et, a);
                    }
                    case GgufValueType.Bool:
                    {
                        var a = new bool[count];
                        for (int i = 0; i < count; i++) a[i] = r.Bool(at(i));
                        return GgufValue.Array(et, a);
                    }
                    default:
                    {
                        var a = System.Array.CreateInstance(GgufValue.ClrArrayType(et).GetElementType()!, count);
                        var src = r.Bytes((long)count * size, field);
                        // Bulk copy: the machine is little-endian like the file (checked in the static constructor).
                        fixed (byte* dst = &System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(a))
                            src.CopyTo(new Span<byte>(dst, src.Length));
                        return GgufValue.Array(et, a);
                    }
                }
            }
            default:
                throw new ModelFileException(r.Path, $"{field}: unknown value type {(uint)type}");
        }
    }

    static GgufFile()
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("GGUF reading needs a little-endian machine");
    }

    /// <summary>A bounds-checked cursor over the mapped file; every read names the field it was reading.</summary>
    private ref struct Reader(string path, byte* p, long length)
    {
        private static readonly UTF8Encoding StrictUtf8 = new(false, true);
        private readonly byte* _p = p;
        public readonly string Path = path;
        public readonly long Length = length;
        public long Position;

        public readonly long Remaining => Length - Position;

        public ReadOnlySpan<byte> Bytes(long n, string field)
        {
            if (n < 0 || n > Remaining)
                throw new ModelFileException(Path, $"truncated: {field} at offset {Position} needs {n} bytes but only {Remaining} remain");
            if (n > int.MaxValue) throw new ModelFileException(Path, $"{field}: {n} bytes is too large");
            var s = new ReadOnlySpan<byte>(_p + Position, (int)n);
            Position += n;
            return s;
        }

        public uint U32(string field) => BinaryPrimitives.ReadUInt32LittleEndian(Bytes(4, field));

        public ulong U64(string field) => BinaryPrimitives.ReadUInt64LittleEndian(Bytes(8, field));

        public bool Bool(string field)
        {
            byte b = Bytes(1, field)[0];
            return b switch
            {
                0 => false,
                1 => true,
                _ => throw new ModelFileException(Path, $"{field}: bool byte {b} is neither 0 nor 1"),
            };
        }

        public string String(string field)
        {
            ulong n = U64(field + " length");
            if (n > (ulong)Remaining) throw new ModelFileException(Path, $"truncated: {field} claims {n} bytes but only {Remaining} remain");
            var bytes = Bytes((long)n, field);
            try { return StrictUtf8.GetString(bytes); }
            catch (DecoderFallbackException) { throw new ModelFileException(Path, $"{field} is not valid UTF-8"); }
        }
    }
}
