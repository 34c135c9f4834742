using System.Runtime.InteropServices;

namespace Loom.Tensors;

/// <summary>
/// Process-wide pool of 64-byte-aligned native buffers, bucketed by size class.
/// Reusing buffers matters on these VMs: first touch of a fresh 4 KiB page costs 6-10 us, so allocating
/// activations per op can cost more than the math.
/// </summary>
public static unsafe class BufferPool
{
    public const int Alignment = 64;
    private const int MinClassShift = 6; // 64 bytes
    private const int ClassCount = 2 * 40;
    private static readonly Stack<nint>[] Buckets = CreateBuckets();
    private static long _retainedBytes;
    private static long _liveBytes;

    /// <summary>Bytes kept in the pool for reuse (not handed out). Beyond this, freed buffers go back to the OS.</summary>
    public static long MaxRetainedBytes { get; set; } = 4L << 30;

    /// <summary>Bytes currently handed out to tensors.</summary>
    public static long LiveBytes => Interlocked.Read(ref _liveBytes);

    /// <summary>Bytes parked in the pool.</summary>
    public static long RetainedBytes => Interlocked.Read(ref _retainedBytes);

    private static Stack<nint>[] CreateBuckets()
    {
        var b = new Stack<nint>[ClassCount];
        for (int i = 0; i < b.Length; i++) b[i] = new Stack<nint>();
        return b;
    }

    /// <summary>Size classes are 2^k and 1.5 * 2^k bytes, so the waste is at most a third.</summary>
    internal static int ClassOf(long bytes, out long classBytes)
    {
        if (bytes <= 1L << MinClassShift) { classBytes = 1L << MinClassShift; return 0; }
        int k = 63 - System.Numerics.BitOperations.LeadingZeroCount((ulong)(bytes - 1)); // 2^k < bytes <= 2^(k+1)
        long half = (1L << k) + (1L << (k - 1));
        int idx;
        if (bytes <= half) { classBytes = half; idx = 2 * (k - MinClassShift) + 1; }
        else { classBytes = 1L << (k + 1); idx = 2 * (k + 1 - MinClassShift); }
        return idx;
    }

    /// <summary>Rents a buffer of at least <paramref name="bytes"/> bytes. Contents are undefined.</summary>
    public static byte* Rent(long bytes, out long capacity)
    {
        if (bytes < 0) throw new ArgumentOutOfRangeException(nameof(bytes));
        int cls = ClassOf(Math.Max(bytes, 1), out capacity);
        Interlocked.Add(ref _liveBytes, capacity);
        if (cls < ClassCount)
        {
            var bucket = Buckets[cls];
            lock (bucket)
            {
                if (bucket.Count > 0)
                {
                    Interlocked.Add(ref _retainedBytes, -capacity);
                    return (byte*)bucket.Pop();
                }
            }
        }
        void* p = NativeMemory.AlignedAlloc((nuint)capacity, Alignment);
        if (p == null) throw new OutOfMemoryException($"could not allocate {capacity} bytes of tensor memory");
        return (byte*)p;
    }

    /// <summary>Returns a buffer obtained from <see cref="Rent"/>.</summary>
    public static void Return(byte* ptr, long capacity)
    {
        if (ptr == null) return;
        Interlocked.Add(ref _liveBytes, -capacity);
        int cls = ClassOf(capacity, out long c2);
        if (cls < ClassCount && c2 == capacity && Interlocked.Read(ref _retainedBytes) + capacity <= MaxRetainedBytes)
        {
            var bucket = Buckets[cls];
            lock (bucket) bucket.Push((nint)ptr);
            Interlocked.Add(ref _retainedBytes, capacity);
            return;
        }
        NativeMemory.AlignedFree(ptr);
    }

    /// <summary>Frees every parked buffer.</summary>
    public static void Trim()
    {
        foreach (var bucket in Buckets)
        {
            lock (bucket)
            {
                while (bucket.Count > 0) NativeMemory.AlignedFree((void*)bucket.Pop());
            }
        }
        Interlocked.Exchange(ref _retainedBytes, 0);
    }
}
