namespace Loom.Serving.Hosting;

/// <summary>What `loom serve` was asked for: models, address, keys and limits.</summary>
public sealed record ServerOptions
{
    /// <summary>Model folders or files; the first is the default for requests that name none.</summary>
    public IReadOnlyList<string> Models { get; init; } = [];
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>0 picks a free port.</summary>
    public int Port { get; init; } = 8080;
    /// <summary>When non-empty, /v1 requests need "Authorization: Bearer KEY" with one of these keys.</summary>
    public IReadOnlyList<string> ApiKeys { get; init; } = [];
    /// <summary>KV slots per model: sequences generated at once.</summary>
    public int Parallel { get; init; } = 8;
    /// <summary>Tokens per slot; 0 = the model's trained context.</summary>
    public int ContextSize { get; init; }
    /// <summary>Requests that may wait for a slot per model before 429.</summary>
    public int QueueCapacity { get; init; } = 32;
    /// <summary>Largest request body accepted (413 beyond).</summary>
    public long MaxBodyBytes { get; init; } = 1 << 20;
    public TimeSpan RequestTimeLimit { get; init; } = TimeSpan.FromMinutes(5);
    /// <summary>Where start-up lines go (model, KV budget, address).</summary>
    public Action<string>? Log { get; init; }
}
