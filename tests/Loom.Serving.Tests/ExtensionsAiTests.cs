using Loom.Serving.Ai;
using Microsoft.Extensions.AI;

namespace Loom.Serving.Tests;

/// <summary>Microsoft.Extensions.AI's IChatClient over the engine, in-process, agrees with the HTTP API.</summary>
[Collection("server")]
public sealed class ExtensionsAiTests(ServerFixture f)
{
    private static readonly ChatMessage[] Conversation = [new(ChatRole.System, "You write about the sea."), new(ChatRole.User, "What did the fisherman see?")];

    [Fact]
    public async Task ChatClientAnswersAndStreamsTheSameText()
    {
        IChatClient client = new LoomChatClient(f.Engine);
        var options = new ChatOptions { Temperature = 0.7f, Seed = 11, MaxOutputTokens = 16 };
        var response = await client.GetResponseAsync(Conversation, options);
        Assert.False(string.IsNullOrWhiteSpace(response.Text));
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(16, response.Usage!.OutputTokenCount);
        Assert.Equal("default", response.ModelId);

        var updates = new List<ChatResponseUpdate>();
        await foreach (var u in client.GetStreamingResponseAsync(Conversation, options)) updates.Add(u);
        Assert.True(updates.Count >= 16);
        Assert.Equal(response.Text, string.Concat(updates.Select(u => u.Text)));
        var usage = updates.SelectMany(u => u.Contents).OfType<UsageContent>().Single();
        Assert.Equal(16, usage.Details.OutputTokenCount);
        Assert.True(usage.Details.CachedInputTokenCount > 0, "the second call should reuse the first one's prompt");
        Assert.Equal(ChatFinishReason.Length, updates[^1].FinishReason);
        Assert.NotNull(client.GetService<ChatClientMetadata>());
    }

    [Fact]
    public async Task ChatClientMatchesTheHttpApiForTheSameSeed()
    {
        IChatClient client = new LoomChatClient(f.Engine);
        var viaClient = await client.GetResponseAsync(Conversation, new ChatOptions { Temperature = 0.9f, Seed = 21, MaxOutputTokens = 12 });
        var (status, body) = await ServerFixture.PostAsync(f.Http, "v1/chat/completions", ServerFixture.Json(new
        {
            messages = new[] { new { role = "system", content = "You write about the sea." }, new { role = "user", content = "What did the fisherman see?" } },
            temperature = 0.9, seed = 21, max_tokens = 12,
        }));
        Assert.Equal(200, status);
        Assert.Equal(body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString(), viaClient.Text);
    }

    [Fact]
    public async Task ChatClientHonoursStopSequencesAndCancellation()
    {
        IChatClient client = new LoomChatClient(f.Engine);
        var free = await client.GetResponseAsync(Conversation, new ChatOptions { Temperature = 0, MaxOutputTokens = 30 });
        var words = free.Text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        string stop = words[words.Length / 2];
        var stopped = await client.GetResponseAsync(Conversation, new ChatOptions { Temperature = 0, MaxOutputTokens = 30, StopSequences = [stop] });
        Assert.Equal(ChatFinishReason.Stop, stopped.FinishReason);
        Assert.Equal(free.Text[..free.Text.IndexOf(stop, StringComparison.Ordinal)], stopped.Text);

        using var cts = new CancellationTokenSource();
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GetResponseAsync(Conversation, new ChatOptions { MaxOutputTokens = 100 }, cts.Token));
        await ErrorTests.WaitFor(() => f.Engine.ActiveSequences == 0 && f.Engine.QueueLength == 0);
    }

    [Fact]
    public async Task EmbeddingGeneratorMatchesTheHttpApi()
    {
        IEmbeddingGenerator<string, Embedding<float>> generator = new LoomEmbeddingGenerator(f.Engine);
        var result = await generator.GenerateAsync(["A gull over the pier.", "A gull over the pier.", "Tax law changed."]);
        Assert.Equal(3, result.Count);
        Assert.Equal(result[0].Vector.ToArray(), result[1].Vector.ToArray());
        var (status, body) = await ServerFixture.PostAsync(f.Http, "v1/embeddings", ServerFixture.Json(new { input = "Tax law changed." }));
        Assert.Equal(200, status);
        Assert.Equal(body.GetProperty("data")[0].GetProperty("embedding").EnumerateArray().Select(e => e.GetSingle()).ToArray(), result[2].Vector.ToArray());
        Assert.True(result.Usage!.InputTokenCount > 6);
        // Similar sentences are closer than unrelated ones.
        var probe = await generator.GenerateAsync(["A gull above the pier."]);
        static double Cos(ReadOnlyMemory<float> a, ReadOnlyMemory<float> b) { double s = 0; for (int i = 0; i < a.Length; i++) s += a.Span[i] * b.Span[i]; return s; }
        Assert.True(Cos(probe[0].Vector, result[0].Vector) > Cos(probe[0].Vector, result[2].Vector));
    }
}
