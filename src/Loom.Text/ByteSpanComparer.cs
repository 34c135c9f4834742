namespace Loom.Text;

/// <summary>Compares byte arrays by content and lets dictionaries be probed with a span, so cache and vocab lookups allocate nothing.</summary>
internal sealed class ByteSpanComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
{
    public static readonly ByteSpanComparer Instance = new();

    public bool Equals(byte[]? x, byte[]? y) => ReferenceEquals(x, y) || (x != null && y != null && x.AsSpan().SequenceEqual(y));

    public int GetHashCode(byte[] obj) => GetHashCode((ReadOnlySpan<byte>)obj);

    public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);

    public int GetHashCode(ReadOnlySpan<byte> alternate)
    {
        var h = new HashCode();
        h.AddBytes(alternate);
        return h.ToHashCode();
    }

    public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();
}

/// <summary>Open-addressing map from a token pair to its merge (rank and result id); the encoder's hottest lookup on cache misses.</summary>
internal sealed class MergeTable
{
    private readonly ulong[] _keys;   // (left+1) << 32 | (right+1); 0 marks an empty slot
    private readonly int[] _ranks;
    private readonly int[] _ids;
    private readonly int _mask;

    public MergeTable(int count)
    {
        int cap = 16;
        while (cap < count * 2) cap <<= 1;
        _keys = new ulong[cap];
        _ranks = new int[cap];
        _ids = new int[cap];
        _mask = cap - 1;
    }

    private static ulong Key(int left, int right) => ((ulong)(uint)(left + 1) << 32) | (uint)(right + 1);

    private int Slot(ulong key) => (int)((key * 0x9E3779B97F4A7C15UL) >> 40) & _mask;

    /// <summary>Adds or replaces the merge of (left, right); a later duplicate wins, as in GPT-2 and Hugging Face.</summary>
    public void Set(int left, int right, int rank, int id)
    {
        ulong key = Key(left, right);
        int i = Slot(key);
        while (_keys[i] != 0 && _keys[i] != key) i = (i + 1) & _mask;
        _keys[i] = key;
        _ranks[i] = rank;
        _ids[i] = id;
    }

    public bool TryGet(int left, int right, out int rank, out int id)
    {
        ulong key = Key(left, right);
        int i = Slot(key);
        while (true)
        {
            ulong k = _keys[i];
            if (k == key) { rank = _ranks[i]; id = _ids[i]; return true; }
            if (k == 0) { rank = 0; id = 0; return false; }
            i = (i + 1) & _mask;
        }
    }
}
