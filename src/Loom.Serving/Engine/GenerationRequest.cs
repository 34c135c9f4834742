using Loom.Text.Sampling;

namespace Loom.Serving.Engine;

/// <summary>One sequence to generate: prompt ids, sampling, limits and what to report per token.</summary>
public sealed record GenerationRequest
{
    public required int[] Prompt { get; init; }
    public SamplerOptions Sampler { get; init; } = new();
    /// <summary>Most tokens to generate; generation also ends when the slot's context is full.</summary>
    public int MaxTokens { get; init; } = 256;
    public IReadOnlyList<string> Stops { get; init; } = [];
    /// <summary>-1: no log-probabilities; 0: the chosen token's; k: also the k most likely.</summary>
    public int TopLogprobs { get; init; } = -1;
    /// <summary>Overrides the engine's per-request time limit (queue wait included).</summary>
    public TimeSpan? TimeLimit { get; init; }
}

/// <summary>A token's log-probability under the model (before penalties and temperature).</summary>
public readonly record struct TokenLogprob(int Id, string Token, byte[] Bytes, float Logprob);

/// <summary>How a sequence ended and what it cost.</summary>
public sealed record GenerationSummary(string FinishReason, int PromptTokens, int CachedTokens, int CompletionTokens, double TimeToFirstTokenSeconds, double Seconds);

/// <summary>One step of a sequence's output: a generated token with the text it made safe to show, or the end.</summary>
public sealed record GenerationEvent(string Text, int Token, TokenLogprob? Logprob, TokenLogprob[]? TopLogprobs, GenerationSummary? Done)
{
    public static GenerationEvent Finished(string tail, GenerationSummary s) => new(tail, -1, null, null, s);
}

/// <summary>The queue of waiting requests is full (HTTP 429).</summary>
public sealed class QueueFullException(int capacity) : Exception($"the server is busy: {capacity} requests are already waiting; retry later")
{
    public int Capacity { get; } = capacity;
}

/// <summary>A prompt that does not fit the context (HTTP 400).</summary>
public sealed class PromptTooLongException(int tokens, int fit)
    : Exception($"the prompt has {tokens} tokens but at most {fit} fit in this model's context (one more position is needed to generate)")
{
    public int Tokens { get; } = tokens;
    public int Fit { get; } = fit;
}
