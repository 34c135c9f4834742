using System.Runtime.CompilerServices;
using System.Text;
using Loom.Serving.Api;
using Loom.Serving.Engine;
using Loom.Text.Sampling;
using Microsoft.Extensions.AI;
using LoomMessage = Loom.Text.Chat.ChatMessage;

namespace Loom.Serving.Ai;

/// <summary>
/// Microsoft.Extensions.AI's <see cref="IChatClient"/> over a Loom batching engine, in-process: .NET apps use a Loom
/// model like any other chat service, and concurrent calls share the engine's batches.
/// </summary>
public sealed class LoomChatClient(BatchEngine engine) : IChatClient
{
    private readonly ChatClientMetadata _metadata = new("loom", null, engine.Model.Name);

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var text = new StringBuilder();
        GenerationSummary? summary = null;
        await foreach (var e in Start(messages, options, cancellationToken).ReadAllAsync(cancellationToken))
        {
            text.Append(e.Text);
            summary ??= e.Done;
        }
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, text.ToString()))
        {
            ModelId = engine.Model.Name, CreatedAt = DateTimeOffset.UtcNow, ResponseId = Guid.NewGuid().ToString("N"),
            FinishReason = Finish(summary!), Usage = Usage(summary!),
        };
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string id = Guid.NewGuid().ToString("N");
        await foreach (var e in Start(messages, options, cancellationToken).ReadAllAsync(cancellationToken))
        {
            var update = new ChatResponseUpdate(ChatRole.Assistant, e.Text) { ResponseId = id, MessageId = id, ModelId = engine.Model.Name, CreatedAt = DateTimeOffset.UtcNow };
            if (e.Done is { } s)
            {
                update.FinishReason = Finish(s);
                update.Contents.Add(new UsageContent(Usage(s)));
            }
            yield return update;
        }
    }

    private System.Threading.Channels.ChannelReader<GenerationEvent> Start(IEnumerable<ChatMessage> messages, ChatOptions? options, CancellationToken ct)
    {
        if (options?.ModelId is { } m && m != engine.Model.Name) throw new ArgumentException($"this client serves model '{engine.Model.Name}', not '{m}'");
        var list = new List<LoomMessage>();
        if (options?.Instructions is { Length: > 0 } instructions) list.Add(new LoomMessage("system", instructions));
        foreach (var msg in messages) list.Add(new LoomMessage(msg.Role.Value, msg.Text));
        var ids = ChatPrompt.Encode(engine.Model, list, out var formatStops);
        var sampler = new SamplerOptions
        {
            Temperature = options?.Temperature ?? 1f, TopP = options?.TopP ?? 1f, TopK = options?.TopK ?? 40, MinP = 0.05f,
            PresencePenalty = options?.PresencePenalty ?? 0, FrequencyPenalty = options?.FrequencyPenalty ?? 0,
            Seed = options?.Seed is long seed ? unchecked((ulong)seed) : (ulong)Random.Shared.NextInt64(),
        };
        return engine.Submit(new GenerationRequest
        {
            Prompt = ids, Sampler = sampler, MaxTokens = options?.MaxOutputTokens ?? engine.ContextLength,
            Stops = (options?.StopSequences ?? []).Concat(formatStops).ToList(),
        }, ct);
    }

    private static ChatFinishReason Finish(GenerationSummary s) => s.FinishReason == "stop" ? ChatFinishReason.Stop : ChatFinishReason.Length;

    private static UsageDetails Usage(GenerationSummary s) => new()
    {
        InputTokenCount = s.PromptTokens, OutputTokenCount = s.CompletionTokens, TotalTokenCount = s.PromptTokens + s.CompletionTokens,
        CachedInputTokenCount = s.CachedTokens,
    };

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey != null ? null : serviceType == typeof(ChatClientMetadata) ? _metadata : serviceType.IsInstanceOfType(this) ? this : serviceType.IsInstanceOfType(engine) ? engine : null;

    /// <summary>The engine belongs to whoever created it; nothing to release here.</summary>
    public void Dispose() { }
}
