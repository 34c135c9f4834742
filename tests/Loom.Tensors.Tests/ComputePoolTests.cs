using Loom.Tensors;

namespace Loom.Tensors.Tests;

/// <summary>Runs alone: a call made while another test class holds the pool runs inline, and the tests below need it to run on the workers.</summary>
[CollectionDefinition("compute-pool", DisableParallelization = true)]
public sealed class ComputePoolCollection;

[Collection("compute-pool")]
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

    /// <summary>Counts each index when its chunk ends; the first job's chunks arm the delay for the worker that runs one.</summary>
    private sealed class DelayedClaimState
    {
        public int[] Hits = [];
        public Thread? Armed;
        public int ChunksOnWorkers;
    }

    private struct SlowBody : IRangeBody
    {
        public DelayedClaimState State;
        public int Ms;
        public bool Arm;

        public readonly void Run(int start, int end)
        {
            Thread.Sleep(Ms);
            if (Thread.CurrentThread.Name?.StartsWith("loom-compute", StringComparison.Ordinal) == true)
            {
                Interlocked.Increment(ref State.ChunksOnWorkers);
                if (Arm) State.Armed = Thread.CurrentThread;
            }
            for (int i = start; i < end; i++) Interlocked.Increment(ref State.Hits[i]);
        }
    }

    [Fact]
    public void AWorkerDelayedInAFinishedJobDoesNotRunAChunkOfTheNextJob()
    {
        // A worker that has run a chunk of a two-chunk job claims the next chunk number (2 or 3) and is then held up
        // before comparing it with the job's chunk count, as a descheduled thread would be. The job object is reused
        // by the next call with the same body type; if that call has already started with 16 chunks when the worker
        // resumes, the stale number must not run as one of its chunks (twice, and with Pending decremented once too
        // often, so the call could return while a chunk was still being written). Retried until the worker took part.
        if (ComputePool.Threads < 2) ComputePool.SetThreads(2);
        bool exercised = false;
        try
        {
            for (int attempt = 0; attempt < 20 && !exercised; attempt++)
            {
                var state = new DelayedClaimState();
                ComputePool.AfterClaim = c =>
                {
                    if (state.Armed == Thread.CurrentThread) { state.Armed = null; Thread.Sleep(100); }
                };
                state.Hits = new int[2];
                ComputePool.For(2, new SlowBody { State = state, Ms = 20, Arm = true }, maxChunks: 2);
                if (state.ChunksOnWorkers == 0) continue;   // the worker took no chunk (or the pool was busy): nothing was held up
                exercised = true;
                state.Hits = new int[16];
                ComputePool.For(16, new SlowBody { State = state, Ms = 15 }, maxChunks: 16);
                var atReturn = state.Hits.ToArray();
                Thread.Sleep(300);   // a stale chunk would land here at the latest
                Assert.All(atReturn, h => Assert.Equal(1, h));
                Assert.All(state.Hits, h => Assert.Equal(1, h));
            }
        }
        finally { ComputePool.AfterClaim = null; }
        Assert.True(exercised, "no worker took part in the first job in 20 attempts");
    }
}
