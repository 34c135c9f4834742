namespace Loom.Serving.Engine;

/// <summary>Counters of one engine, updated with interlocked operations and read by /metrics.</summary>
public sealed class EngineMetrics
{
    private long _promptTokens, _cachedTokens, _completionTokens, _steps, _rows, _completed, _cancelled, _rejected, _timedOut, _firstTokens;
    private long _ttftMicros, _busyMicros;

    public long PromptTokens => Interlocked.Read(ref _promptTokens);
    public long CachedTokens => Interlocked.Read(ref _cachedTokens);
    public long CompletionTokens => Interlocked.Read(ref _completionTokens);
    public long Steps => Interlocked.Read(ref _steps);
    public long Rows => Interlocked.Read(ref _rows);
    public long Completed => Interlocked.Read(ref _completed);
    public long Cancelled => Interlocked.Read(ref _cancelled);
    public long Rejected => Interlocked.Read(ref _rejected);
    public long TimedOutCount => Interlocked.Read(ref _timedOut);
    public long FirstTokens => Interlocked.Read(ref _firstTokens);
    public double TimeToFirstTokenSeconds => Interlocked.Read(ref _ttftMicros) / 1e6;
    /// <summary>Seconds spent in forward passes.</summary>
    public double BusySeconds => Interlocked.Read(ref _busyMicros) / 1e6;

    internal void OnAdmitted(int prompt, int cached) { Interlocked.Add(ref _promptTokens, prompt); Interlocked.Add(ref _cachedTokens, cached); }
    internal void OnGenerated() => Interlocked.Increment(ref _completionTokens);
    internal void OnStep(int rows, double seconds) { Interlocked.Increment(ref _steps); Interlocked.Add(ref _rows, rows); Interlocked.Add(ref _busyMicros, (long)(seconds * 1e6)); }
    internal void OnFirstToken(double seconds) { Interlocked.Increment(ref _firstTokens); Interlocked.Add(ref _ttftMicros, (long)(seconds * 1e6)); }
    internal void OnCompleted() => Interlocked.Increment(ref _completed);
    internal void OnCancelled() => Interlocked.Increment(ref _cancelled);
    internal void OnRejected() => Interlocked.Increment(ref _rejected);
    internal void OnTimedOut() => Interlocked.Increment(ref _timedOut);
}
