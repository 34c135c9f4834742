using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Loom.Serving.Engine;
using Loom.Serving.Hosting;
using Loom.Testing;

namespace Loom.Serving.Tests;

/// <summary>One server on the bundled model on a free loopback port, shared by the tests of the "server" collection.</summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public static string ModelPath => Path.Combine(Fixtures.RepoRoot, "models", "default");

    public LoomServer Server { get; private set; } = null!;
    public Uri Url => Server.Url;
    public BatchEngine Engine => Server.Engines[0];
    public HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = await LoomServer.StartAsync(new ServerOptions { Models = [ModelPath], Port = 0, Parallel = 8, QueueCapacity = 64 });
        Http = new HttpClient { BaseAddress = Server.Url, Timeout = TimeSpan.FromSeconds(60) };
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
    }

    public static StringContent Json(object body) => new(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");

    public static StringContent Raw(string body) => new(body, Encoding.UTF8, "application/json");

    /// <summary>Posts and returns (status, parsed body).</summary>
    public static async Task<(int Status, JsonElement Body)> PostAsync(HttpClient http, string path, HttpContent content, string? key = null)
    {
        using var req = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
        if (key != null) req.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var resp = await http.SendAsync(req);
        var text = await resp.Content.ReadAsStringAsync();
        JsonElement body;
        try { body = JsonDocument.Parse(text).RootElement.Clone(); }
        catch (JsonException) { throw new Xunit.Sdk.XunitException($"{(int)resp.StatusCode} with a body that is not JSON: {text}"); }
        return ((int)resp.StatusCode, body);
    }

    /// <summary>Reads an SSE chat stream to the end; returns the text and the final usage object (if any).</summary>
    public static async Task<(string Text, string? Finish, JsonElement? Usage)> ReadChatStreamAsync(HttpResponseMessage resp, CancellationToken ct = default)
    {
        using var reader = new StreamReader(await resp.Content.ReadAsStreamAsync(ct));
        var text = new StringBuilder();
        string? finish = null;
        JsonElement? usage = null;
        bool done = false;
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            if (line.Length == 0) continue;
            Assert.StartsWith("data: ", line);
            var data = line[6..];
            if (data == "[DONE]") { done = true; break; }
            var root = JsonDocument.Parse(data).RootElement;
            Assert.False(root.TryGetProperty("error", out _), data);
            foreach (var c in root.GetProperty("choices").EnumerateArray())
            {
                if (c.GetProperty("delta").TryGetProperty("content", out var content)) text.Append(content.GetString());
                if (c.GetProperty("finish_reason").ValueKind == JsonValueKind.String) finish = c.GetProperty("finish_reason").GetString();
            }
            if (root.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object) usage = u.Clone();
        }
        Assert.True(done, "the stream ended without data: [DONE]");
        return (text.ToString(), finish, usage);
    }
}

[CollectionDefinition("server")]
public sealed class ServerCollection : ICollectionFixture<ServerFixture>;
