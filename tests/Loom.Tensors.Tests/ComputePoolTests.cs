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
        var e = Assert.Throws<AggregateException>(() => ComputePool.For(100, (s, _) => { if (s > 0) throw new InvalidOperationException("boom"); }, 4));
        Assert.Contains("boom", e.InnerException!.Message);
    }
}
