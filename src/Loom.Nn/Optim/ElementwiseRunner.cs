using Loom.Tensors;

namespace Loom.Nn;

/// <summary>Runs an elementwise update inline for small tensors and split across <see cref="ComputePool"/> for big ones.</summary>
internal static class ElementwiseRunner
{
    /// <summary>Elements per chunk below which threading costs more than it saves.</summary>
    private const int MinChunk = 32 * 1024;

    public static void Run<T>(int length, T body) where T : struct, IRangeBody
    {
        int chunks = Math.Min(ComputePool.Threads, length / MinChunk);
        if (chunks <= 1) body.Run(0, length);
        else ComputePool.For(length, body, chunks);
    }
}
