using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;

namespace Loom.Tensors;

/// <summary>A loop body run over index ranges by <see cref="ComputePool"/>. Structs, so dispatch does not allocate.</summary>
public interface IRangeBody
{
    void Run(int start, int end);
}

/// <summary>
/// The one thread pool that every kernel in Loom shares: persistent workers, the calling thread takes part,
/// no allocation per call. Workers spin briefly after a job (back-to-back small ops are common) and then park,
/// because busy-waiting threads fight each other on a 2-core machine. Nested or concurrent calls run inline.
/// </summary>
public static class ComputePool
{
    private abstract class Job
    {
        public int Count;
        public int Chunks;
        public int NextChunk;
        public int Pending;

        public abstract void RunChunk(int chunk);

        public void Work()
        {
            while (true)
            {
                int c = Interlocked.Increment(ref NextChunk) - 1;
                AfterClaim?.Invoke(c);
                if (c >= Chunks) return;
                try { RunChunk(c); }
                catch (Exception e) { Interlocked.CompareExchange(ref _error, e, null); }
                Interlocked.Decrement(ref Pending);
            }
        }
    }

    private sealed class Job<T> : Job where T : struct, IRangeBody
    {
        public T Body;

        public override void RunChunk(int chunk)
        {
            long start = (long)Count * chunk / Chunks;
            long end = (long)Count * (chunk + 1) / Chunks;
            Body.Run((int)start, (int)end);
        }
    }

    private static class JobCache<T> where T : struct, IRangeBody
    {
        [ThreadStatic] public static Job<T>? Instance;
    }

    private static readonly object DispatchLock = new();
    private static Thread[] _workers = [];
    private static SemaphoreSlim _wake = new(0);
    private static volatile Job? _current;
    // Workers between reading _current and leaving its Work(). A job object is reused by the next call of the same
    // body type, so a worker still inside it (say descheduled between claiming a chunk number and comparing it with
    // Chunks) must be out before the call returns: otherwise it can compare its stale claim with the next job's
    // larger Chunks, run that chunk as well and decrement Pending once too often, and that call then returns while
    // its last chunk is still being written (a rare, silently wrong result).
    private static int _busy;
    private static int _generation;
    private static int _threads;
    private static Exception? _error;
    [ThreadStatic] private static bool _inJob;

    /// <summary>Spin iterations a worker waits for the next job before parking (LOOM_SPIN overrides; the server lowers it).</summary>
    public static int SpinIterations { get; set; } = int.TryParse(Environment.GetEnvironmentVariable("LOOM_SPIN"), out int spin) && spin >= 0 ? spin : 20000;

    static ComputePool()
    {
        int n = Environment.ProcessorCount;
        var env = Environment.GetEnvironmentVariable("LOOM_THREADS");
        if (int.TryParse(env, out int e) && e > 0) n = e;
        SetThreads(n);
    }

    /// <summary>Test seam: called on each claim of a chunk number, before it is compared with the job's chunk count.</summary>
    internal static Action<int>? AfterClaim;

    /// <summary>Number of threads that run kernels (the caller included).</summary>
    public static int Threads => _threads;

    /// <summary>Changes the thread count; existing workers finish and new ones start.</summary>
    public static void SetThreads(int n)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), "thread count must be at least 1");
        lock (DispatchLock)
        {
            // Retire old workers: a null job with a new generation tells them to exit.
            var old = _workers;
            var oldWake = _wake;
            _threads = n;
            _exit = true;
            Interlocked.Increment(ref _generation);
            if (old.Length > 0) oldWake.Release(old.Length);
            foreach (var w in old) w.Join();
            _exit = false;
            _wake = new SemaphoreSlim(0);
            _workers = new Thread[n - 1];
            for (int i = 0; i < n - 1; i++)
            {
                var t = new Thread(WorkerLoop) { IsBackground = true, Name = $"loom-compute-{i + 1}" };
                _workers[i] = t;
                t.Start();
            }
        }
    }

    private static volatile bool _exit;

    private static void WorkerLoop()
    {
        _inJob = true;
        var wake = _wake;
        int seen = Volatile.Read(ref _generation);
        while (true)
        {
            int spins = SpinIterations;
            while (Volatile.Read(ref _generation) == seen && spins-- > 0) Thread.SpinWait(1);
            if (Volatile.Read(ref _generation) == seen)
            {
                wake.Wait();
                // A wake-up may be for a generation we already ran by spinning; loop to re-check.
                if (Volatile.Read(ref _generation) == seen && !_exit) continue;
            }
            if (_exit) return;
            seen = Volatile.Read(ref _generation);
            // Announce before reading _current (both full fences), pairing with the caller's exchange of _current
            // then read of _busy: either the caller waits for this worker, or this worker sees the job withdrawn.
            Interlocked.Increment(ref _busy);
            var job = _current;
            job?.Work();
            Interlocked.Decrement(ref _busy);
        }
    }

    /// <summary>Runs <paramref name="body"/> over [0, count) in at most <paramref name="maxChunks"/> ranges.</summary>
    public static void For<T>(int count, T body, int maxChunks = 0) where T : struct, IRangeBody
    {
        if (count <= 0) return;
        int threads = _threads;
        int chunks = maxChunks > 0 ? Math.Min(maxChunks, count) : Math.Min(count, threads);
        if (chunks <= 1 || threads == 1 || _inJob || !Monitor.TryEnter(DispatchLock))
        {
            body.Run(0, count);
            return;
        }
        try
        {
            var job = JobCache<T>.Instance ??= new Job<T>();
            job.Body = body;
            job.Count = count;
            job.Chunks = chunks;
            job.Pending = chunks;
            // No worker is inside this job object (the call that used it last waited for _busy to drain): workers
            // come in through _current, which publishes these writes.
            Volatile.Write(ref job.NextChunk, 0);
            _error = null;
            _current = job;
            Interlocked.Increment(ref _generation);
            int sleepers = Math.Min(_workers.Length, chunks - 1);
            if (_wake.CurrentCount < sleepers) _wake.Release(sleepers - _wake.CurrentCount);
            _inJob = true;
            try { job.Work(); }
            finally { _inJob = false; }
            var sw = new SpinWait();
            while (Volatile.Read(ref job.Pending) > 0) sw.SpinOnce(-1);
            Interlocked.Exchange(ref _current, null);
            while (Volatile.Read(ref _busy) > 0) sw.SpinOnce(-1);
            job.Body = default;
            var err = _error;
            // Rethrown as is, with its stack, so a caller sees the same exception whether the call ran inline or in parallel.
            if (err != null) { _error = null; ExceptionDispatchInfo.Capture(err).Throw(); }
        }
        finally
        {
            Monitor.Exit(DispatchLock);
        }
    }

    /// <summary>Convenience overload for non-hot paths (allocates a delegate).</summary>
    public static void For(int count, Action<int, int> body, int maxChunks = 0) => For(count, new ActionBody(body), maxChunks);

    private readonly struct ActionBody(Action<int, int> action) : IRangeBody
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Run(int start, int end) => action(start, end);
    }
}
