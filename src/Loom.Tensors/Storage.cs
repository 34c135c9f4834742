namespace Loom.Tensors;

/// <summary>
/// A reference-counted block of native memory shared by a tensor and its views. Pooled storage goes back to
/// <see cref="BufferPool"/> when the last reference is released; external storage (a memory-mapped file)
/// releases its owner instead.
/// </summary>
public sealed unsafe class Storage
{
    private byte* _ptr;
    private readonly long _capacity;
    private readonly IDisposable? _owner;
    private readonly bool _pooled;
    private int _refs = 1;

    public long ByteLength { get; }

    public byte* Pointer
    {
        get
        {
            if (_ptr == null) throw new ObjectDisposedException(nameof(Storage), "tensor storage was already released");
            return _ptr;
        }
    }

    public bool IsReleased => _ptr == null;

    private Storage(byte* ptr, long byteLength, long capacity, bool pooled, IDisposable? owner)
    {
        _ptr = ptr;
        ByteLength = byteLength;
        _capacity = capacity;
        _pooled = pooled;
        _owner = owner;
        if (pooled) GC.AddMemoryPressure(Math.Max(capacity, 1));
    }

    /// <summary>Allocates uninitialised pooled storage.</summary>
    public static Storage Allocate(long byteLength)
    {
        byte* p = BufferPool.Rent(byteLength, out long cap);
        return new Storage(p, byteLength, cap, true, null);
    }

    /// <summary>Wraps memory owned by someone else (for example a memory-mapped view); the owner is disposed on release.</summary>
    public static Storage FromExternal(byte* ptr, long byteLength, IDisposable? owner) => new(ptr, byteLength, 0, false, owner);

    public void AddRef()
    {
        if (Interlocked.Increment(ref _refs) <= 1) throw new ObjectDisposedException(nameof(Storage), "tensor storage was already released");
    }

    public void Release()
    {
        int r = Interlocked.Decrement(ref _refs);
        if (r == 0) Free();
    }

    private void Free()
    {
        byte* p = _ptr;
        _ptr = null;
        if (p == null) return;
        if (_pooled)
        {
            BufferPool.Return(p, _capacity);
            GC.RemoveMemoryPressure(Math.Max(_capacity, 1));
        }
        _owner?.Dispose();
        GC.SuppressFinalize(this);
    }

    ~Storage()
    {
        // A tensor that was never disposed: give its memory back to the pool anyway.
        if (_ptr != null)
        {
            if (_pooled) { BufferPool.Return(_ptr, _capacity); GC.RemoveMemoryPressure(Math.Max(_capacity, 1)); }
            _ptr = null;
        }
    }
}
