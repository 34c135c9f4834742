using Loom.Text.Sampling;

namespace Loom.Serving.Api;

/// <summary>The sampling and output parameters shared by /v1/chat/completions and /v1/completions.</summary>
internal sealed record GenerationArgs(SamplerOptions Sampler, int? MaxTokens, IReadOnlyList<string> Stops, int N, int TopLogprobs, bool Stream, bool IncludeUsage)
{
    public const int MaxChoices = 16;

    /// <summary>
    /// Reads the fields OpenAI defines (temperature 1 and top_p 1 by default), plus llama.cpp server's extensions
    /// top_k (default 40, 0 disables) and min_p (default 0.05, 0 disables), whose defaults it also applies to
    /// OpenAI requests: they drop only the long tail, and spare sorting the whole vocabulary at every token.
    /// </summary>
    public static GenerationArgs Parse(JsonArgs a, bool chat)
    {
        float temperature = (float)a.Number("temperature", 1, 0, 2);
        float topP = (float)a.Number("top_p", 1, 0, 1);
        if (topP == 0) topP = float.Epsilon;   // OpenAI accepts 0: keep only the most likely token
        int topK = (int)a.Integer("top_k", 40, 0, int.MaxValue);
        float minP = (float)a.Number("min_p", 0.05, 0, 0.999);
        float presence = (float)a.Number("presence_penalty", 0, -2, 2);
        float frequency = (float)a.Number("frequency_penalty", 0, -2, 2);
        long seed = a.Integer("seed", Random.Shared.NextInt64(), long.MinValue, long.MaxValue);
        int? maxTokens = null;
        foreach (var name in chat ? new[] { "max_completion_tokens", "max_tokens" } : ["max_tokens"])
            if (a.Has(name)) { maxTokens = (int)a.Integer(name, 0, chat ? 1 : 0, int.MaxValue); break; }
        int n = (int)a.Integer("n", 1, 1, MaxChoices);
        int top = -1;
        if (chat)
        {
            bool logprobs = a.Bool("logprobs", false);
            if (a.Has("top_logprobs"))
            {
                if (!logprobs) throw ApiException.Invalid("top_logprobs", "'top_logprobs' needs 'logprobs' set to true");
                top = (int)a.Integer("top_logprobs", 0, 0, 20);
            }
            else if (logprobs) top = 0;
        }
        else if (a.Has("logprobs")) top = (int)a.Integer("logprobs", 0, 0, 5);
        bool stream = a.Bool("stream", false);
        bool includeUsage = false;
        if (a.Get("stream_options") is { } so)
        {
            if (so.ValueKind != System.Text.Json.JsonValueKind.Object) throw ApiException.Invalid("stream_options", "'stream_options' must be an object");
            if (!stream) throw ApiException.Invalid("stream_options", "'stream_options' is only allowed when 'stream' is true");
            includeUsage = new JsonArgs(so).Bool("include_usage", false);
        }
        var sampler = new SamplerOptions
        {
            Temperature = temperature, TopP = topP, TopK = topK, MinP = minP, PresencePenalty = presence, FrequencyPenalty = frequency,
            Seed = unchecked((ulong)seed),
        };
        return new GenerationArgs(sampler, maxTokens, a.Stops(), n, top, stream, includeUsage);
    }
}
