using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using Loom.Formats;

namespace Loom.Training.Data;

/// <summary>
/// A file of token ids, memory-mapped for training: "LOOMTOK1", a little-endian u32 bytes-per-token (2 or 4),
/// a u64 count, then the ids. Written atomically; a truncated or foreign file is a clear error.
/// </summary>
public sealed unsafe class TokenShard : IDisposable
{
    private static ReadOnlySpan<byte> Magic => "LOOMTOK1"u8;
    private const int HeaderBytes = 24;

    private readonly MemoryMappedFile _mmf;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _data;
    private readonly int _width;

    public string Path { get; }
    public long Count { get; }

    private TokenShard(string path)
    {
        Path = path;
        long len = new FileInfo(path).Length;
        if (len < HeaderBytes) throw new ModelFileException(path, $"truncated: {len} bytes is shorter than the {HeaderBytes}-byte token shard header");
        _mmf = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        _view = _mmf.CreateViewAccessor(0, len, MemoryMappedFileAccess.Read);
        byte* p = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        p += _view.PointerOffset;
        try
        {
            var head = new ReadOnlySpan<byte>(p, HeaderBytes);
            if (!head[..8].SequenceEqual(Magic)) throw new ModelFileException(path, "not a Loom token shard (bad magic)");
            _width = (int)BinaryPrimitives.ReadUInt32LittleEndian(head[8..]);
            if (_width != 2 && _width != 4) throw new ModelFileException(path, $"unsupported token width {_width}");
            Count = (long)BinaryPrimitives.ReadUInt64LittleEndian(head[16..]);
            if (Count < 0 || Count > (len - HeaderBytes) / _width) throw new ModelFileException(path, $"truncated: header claims {Count} tokens, the file holds {(len - HeaderBytes) / _width}");
        }
        catch
        {
            Dispose();
            throw;
        }
        _data = p + HeaderBytes;
    }

    public static TokenShard Open(string path)
    {
        if (!File.Exists(path)) throw new ModelFileException(path, "file not found");
        return new TokenShard(path);
    }

    public int this[long i] => _width == 2 ? ((ushort*)_data)[i] : ((int*)_data)[i];

    /// <summary>Copies tokens [start, start + dst.Length) into <paramref name="dst"/>.</summary>
    public void Read(long start, Span<int> dst)
    {
        if (start < 0 || start + dst.Length > Count) throw new ArgumentOutOfRangeException(nameof(start));
        if (_width == 4) new ReadOnlySpan<int>((int*)_data + start, dst.Length).CopyTo(dst);
        else
        {
            ushort* s = (ushort*)_data + start;
            for (int i = 0; i < dst.Length; i++) dst[i] = s[i];
        }
    }

    /// <summary>Writes ids atomically, 2 bytes per token when the vocabulary fits in 16 bits.</summary>
    public static void Write(string path, ReadOnlySpan<int> ids, int vocabSize)
    {
        int width = vocabSize <= 65536 ? 2 : 4;
        var copy = ids.ToArray();
        AtomicFile.Write(path, s =>
        {
            Span<byte> head = stackalloc byte[HeaderBytes];
            Magic.CopyTo(head);
            BinaryPrimitives.WriteUInt32LittleEndian(head[8..], (uint)width);
            BinaryPrimitives.WriteUInt32LittleEndian(head[12..], 0);
            BinaryPrimitives.WriteUInt64LittleEndian(head[16..], (ulong)copy.Length);
            s.Write(head);
            var buf = new byte[1 << 16];
            int n = 0;
            foreach (int id in copy)
            {
                if ((uint)id >= (uint)vocabSize) throw new ArgumentOutOfRangeException(nameof(ids), $"token id {id} is outside the vocabulary of {vocabSize}");
                if (width == 2) BinaryPrimitives.WriteUInt16LittleEndian(buf.AsSpan(n), (ushort)id);
                else BinaryPrimitives.WriteInt32LittleEndian(buf.AsSpan(n), id);
                n += width;
                if (n + 4 > buf.Length) { s.Write(buf, 0, n); n = 0; }
            }
            s.Write(buf, 0, n);
        });
    }

    public void Dispose()
    {
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _mmf.Dispose();
    }
}
