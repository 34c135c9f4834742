using System.ClientModel;
using System.Text;
using System.Text.Json;
using OpenAI;
using OpenAI.Chat;

namespace Loom.Serving.Tests;

/// <summary>The official OpenAI .NET SDK as the client: models, chat (whole and streamed), completions.</summary>
[Collection("server")]
public sealed class OpenAiSdkTests(ServerFixture f)
{
    private OpenAIClient Client() => new(new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(f.Url, "v1") });

    [Fact]
    public async Task ModelsListsTheServedModel()
    {
        var models = (await Client().GetOpenAIModelClient().GetModelsAsync()).Value;
        var m = Assert.Single(models);
        Assert.Equal("default", m.Id);
    }

    [Fact]
    public async Task ChatWholeAndStreamedGiveTheSameTextForTheSameSeed()
    {
        var chat = Client().GetChatClient("default");
        var options = new ChatCompletionOptions { Temperature = 0.8f, Seed = 7, MaxOutputTokenCount = 24 };
        ChatMessage[] messages = [new SystemChatMessage("You tell stories."), new UserChatMessage("The ship left the harbour at dawn.")];
        var whole = (await chat.CompleteChatAsync(messages, options)).Value;
        string text = Assert.Single(whole.Content).Text;
        Assert.False(string.IsNullOrWhiteSpace(text));
        Assert.Equal(ChatFinishReason.Length, whole.FinishReason);
        Assert.Equal(24, whole.Usage.OutputTokenCount);
        Assert.True(whole.Usage.InputTokenCount > 5);

        var streamed = new StringBuilder();
        ChatTokenUsage? usage = null;
        int updates = 0;
        await foreach (var u in chat.CompleteChatStreamingAsync(messages, new ChatCompletionOptions { Temperature = 0.8f, Seed = 7, MaxOutputTokenCount = 24 }))
        {
            updates++;
            foreach (var part in u.ContentUpdate) streamed.Append(part.Text);
            usage ??= u.Usage;
        }
        Assert.True(updates > 5, $"only {updates} updates: not streamed");
        Assert.Equal(text, streamed.ToString());
        // The SDK asks for include_usage; the second request reuses the first one's prompt from a slot's cache.
        Assert.NotNull(usage);
        Assert.Equal(24, usage!.OutputTokenCount);
        Assert.True(usage.InputTokenDetails.CachedTokenCount > 0, "no prefix reuse reported");
    }

    [Fact]
    public async Task StopSequenceEndsTheReplyBeforeIt()
    {
        var chat = Client().GetChatClient("default");
        ChatMessage[] messages = [new UserChatMessage("Write about the old lighthouse keeper.")];
        var free = Assert.Single((await chat.CompleteChatAsync(messages, new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 40 })).Value.Content).Text;
        // Stop at a word from the middle of the free reply.
        var words = free.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(words.Length > 4, free);
        string stop = words[words.Length / 2];
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 40 };
        options.StopSequences.Add(stop);
        var stopped = (await chat.CompleteChatAsync(messages, options)).Value;
        Assert.Equal(ChatFinishReason.Stop, stopped.FinishReason);
        Assert.Equal(free[..free.IndexOf(stop, StringComparison.Ordinal)], stopped.Content[0].Text);
    }

    [Fact]
    public async Task LogprobsAreReportedPerToken()
    {
        var chat = Client().GetChatClient("default");
        var r = (await chat.CompleteChatAsync([new UserChatMessage("Rain fell")],
            new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 6, IncludeLogProbabilities = true, TopLogProbabilityCount = 3 })).Value;
        Assert.Equal(6, r.ContentTokenLogProbabilities.Count);
        foreach (var t in r.ContentTokenLogProbabilities)
        {
            Assert.Equal(3, t.TopLogProbabilities.Count);
            Assert.True(t.LogProbability <= 0);
            // Greedy: the chosen token is the most likely one.
            Assert.Equal(t.TopLogProbabilities[0].Token, t.Token);
            Assert.Equal(t.TopLogProbabilities[0].LogProbability, t.LogProbability, 5);
        }
        Assert.Equal(r.Content[0].Text, string.Concat(r.ContentTokenLogProbabilities.Select(t => t.Token)));
    }

    [Fact]
    public async Task CompletionsContinueAPromptWithNChoices()
    {
        // The SDK's legacy completion client is protocol-only; the request goes over plain HTTP in OpenAI's shape.
        var (status, body) = await ServerFixture.PostAsync(f.Http, "v1/completions",
            ServerFixture.Json(new { model = "default", prompt = "The old sailor", max_tokens = 12, n = 2, seed = 3, temperature = 1.0 }));
        Assert.Equal(200, status);
        Assert.Equal("text_completion", body.GetProperty("object").GetString());
        var choices = body.GetProperty("choices").EnumerateArray().ToArray();
        Assert.Equal(2, choices.Length);
        Assert.NotEqual(choices[0].GetProperty("text").GetString(), choices[1].GetProperty("text").GetString());
        Assert.Equal(24, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task EmbeddingsAreUnitVectorsOfTheHiddenSize()
    {
        var client = Client().GetEmbeddingClient("default");
        // The SDK asks for base64; the server answers in it.
        var one = (await client.GenerateEmbeddingAsync("The tide came in.")).Value.ToFloats().ToArray();
        Assert.Equal(256, one.Length);
        Assert.Equal(1.0, Math.Sqrt(one.Sum(v => (double)v * v)), 4);
        var many = (await client.GenerateEmbeddingsAsync(["The tide came in.", "Stock prices fell sharply."])).Value;
        Assert.Equal(2, many.Count);
        Assert.Equal(one, many[0].ToFloats().ToArray());
        Assert.NotEqual(one, many[1].ToFloats().ToArray());

        // Plain float JSON gives the same numbers.
        var (status, body) = await ServerFixture.PostAsync(f.Http, "v1/embeddings", ServerFixture.Json(new { model = "default", input = "The tide came in." }));
        Assert.Equal(200, status);
        var floats = body.GetProperty("data")[0].GetProperty("embedding").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        Assert.Equal(one, floats);
        Assert.True(body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32() > 2);
    }
}
