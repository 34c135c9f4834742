using System.IO.MemoryMappedFiles;

namespace Loom.Formats;

/// <summary>
/// A read-only file mapped copy-on-write into memory and shared by every tensor loaded from it; the mapping is
/// released when the file handle and all tensors using it are gone.
/// </summary>
internal sealed unsafe class MappedFile : IDisposable
{
    private readonly MemoryMappedFile _mmf;
    private readonly MemoryMappedViewAccessor _view;
    private int _refs = 1;

    public byte* Pointer { get; }
    public long Length { get; }

    public MappedFile(string path)
    {
        var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        Length = fs.Length;
        if (Length == 0) { fs.Dispose(); throw new ModelFileException(path, "file is empty"); }
        _mmf = MemoryMappedFile.CreateFromFile(fs, null, 0, MemoryMappedFileAccess.CopyOnWrite, HandleInheritability.None, leaveOpen: false);
        _view = _mmf.CreateViewAccessor(0, Length, MemoryMappedFileAccess.CopyOnWrite);
        byte* p = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        Pointer = p + _view.PointerOffset;
    }

    /// <summary>A handle that keeps the mapping alive; disposing it drops one reference.</summary>
    public IDisposable Lease()
    {
        Interlocked.Increment(ref _refs);
        return new LeaseHandle(this);
    }

    public void Dispose() => Release();

    private void Release()
    {
        if (Interlocked.Decrement(ref _refs) != 0) return;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _mmf.Dispose();
    }

    private sealed class LeaseHandle(MappedFile file) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0) file.Release();
        }
    }
}
