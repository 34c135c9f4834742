namespace Loom.Serving.Engine;

/// <summary>Limits of one model's batching engine.</summary>
public sealed record EngineOptions
{
    /// <summary>KV-cache slots: sequences generated at once.</summary>
    public int Slots { get; init; } = 8;
    /// <summary>Tokens per slot; 0 means the model's trained context (reduced only if the KV budget would not fit in memory).</summary>
    public int ContextLength { get; init; }
    /// <summary>Requests allowed to wait for a slot; one more is refused with 429.</summary>
    public int QueueCapacity { get; init; } = 32;
    /// <summary>Longest a request may take, queue wait included.</summary>
    public TimeSpan RequestTimeLimit { get; init; } = TimeSpan.FromMinutes(5);
    /// <summary>Most prompt tokens processed in one step over all new sequences (decoding rows come first).</summary>
    public int PrefillChunk { get; init; } = 256;
}
