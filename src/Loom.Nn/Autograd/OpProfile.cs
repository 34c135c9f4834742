using System.Diagnostics;
using Loom.Tensors;

namespace Loom.Nn;

/// <summary>Accumulated wall time of one kind of differentiable op: forward, backward, and how many were recorded.</summary>
public sealed record OpTiming(string Op, double ForwardMs, double BackwardMs, long Count)
{
    public double TotalMs => ForwardMs + BackwardMs;
}

/// <summary>
/// Per-op timings for benchmarks, filled while <see cref="Autograd.Profile"/> is set on the thread. An op's
/// forward time is the time since the previous recorded op (or <see cref="Mark"/>), so work between ops (views,
/// module code) counts towards the next recorded op; its backward time is its gradient function's run.
/// </summary>
public sealed class OpProfile
{
    private readonly Dictionary<string, (double Fwd, double Bwd, long Count)> _ops = new();
    private long _last = Stopwatch.GetTimestamp();

    /// <summary>Starts the clock for the next op's forward time (call before a forward pass).</summary>
    public void Mark() => _last = Stopwatch.GetTimestamp();

    internal void Forward(GradFn fn)
    {
        long now = Stopwatch.GetTimestamp();
        var key = Name(fn);
        var e = _ops.GetValueOrDefault(key);
        _ops[key] = (e.Fwd + Stopwatch.GetElapsedTime(_last, now).TotalMilliseconds, e.Bwd, e.Count + 1);
        _last = now;
    }

    internal void Backward(GradFn fn, long start)
    {
        var key = Name(fn);
        var e = _ops.GetValueOrDefault(key);
        _ops[key] = (e.Fwd, e.Bwd + Stopwatch.GetElapsedTime(start).TotalMilliseconds, e.Count);
    }

    /// <summary>The timings so far, largest total first.</summary>
    public IReadOnlyList<OpTiming> Timings =>
        _ops.Select(kv => new OpTiming(kv.Key, kv.Value.Fwd, kv.Value.Bwd, kv.Value.Count)).OrderByDescending(t => t.TotalMs).ToList();

    public void Reset() => _ops.Clear();

    private static string Name(GradFn fn)
    {
        var n = fn.GetType().Name;
        foreach (var suffix in new[] { "BackwardFn", "Backward", "Fn" })
            if (n.EndsWith(suffix, StringComparison.Ordinal) && n.Length > suffix.Length) return n[..^suffix.Length];
        return n;
    }
}
