using Loom.Tensors;

namespace Loom.Tensors.Tests;

public class ComputePoolTests
{
    private unsafe struct FillBody : IRangeBody
    {
        public int* Hits;

        public readonly void Run(int start, int end)
        {
            for (int i = start; i < end; i++) Interlocked.Increment(ref Hits[i]);
        }
    }

    [Fact]
    public unsafe void EveryIndexRunsExactlyOnceAcrossManyDispatches()
    {
        var hits = new int[1000];
        fixed (int* p = hits)
        {
            for (int rep = 0; rep < 2000; rep++)
                ComputePool.For(hits.Length, new FillBody { Hits = p }, maxChunks: 1 + rep % 7);
        }
        Assert.All(hits, h => Assert.Equal(2000, h));
    }

    [Fact]
    public void ExceptionsInBodiesReachTheCaller()
    {
        // Every chunk throws, so the call fails whether it ran in parallel or inline (another test may hold the pool).
        var e = Assert.Throws<InvalidOperationException>(() => ComputePool.For(100, (s, _) => throw new InvalidOperationException($"boom at {s}"), 4));
        Assert.StartsWith("boom at ", e.Message);
    }

    [Fact]
    public void AFailedDispatchLeavesThePoolUsable()
    {
        var hits = new int[64];
        for (int rep = 0; rep < 50; rep++)
        {
            Assert.Throws<InvalidOperationException>(() => ComputePool.For(64, (_, _) => throw new InvalidOperationException("boom"), 4));
            Array.Clear(hits);
            ComputePool.For(64, (s, e) => { for (int i = s; i < e; i++) Interlocked.Increment(ref hits[i]); }, 4);
            Assert.All(hits, h => Assert.Equal(1, h));
        }
    }
}
