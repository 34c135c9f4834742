using System.Net;
using System.Text;
using System.Text.Json;
using Loom.Serving.Hosting;

namespace Loom.Serving.Tests;

/// <summary>Every bad input gets its status and an OpenAI-shaped error naming what was wrong.</summary>
[Collection("server")]
public sealed class ErrorTests(ServerFixture f)
{
    private static void AssertError(JsonElement body, string? param, string type = "invalid_request_error")
    {
        var e = body.GetProperty("error");
        Assert.False(string.IsNullOrEmpty(e.GetProperty("message").GetString()));
        Assert.Equal(type, e.GetProperty("type").GetString());
        if (param != null) Assert.Equal(param, e.GetProperty("param").GetString());
        Assert.True(e.TryGetProperty("code", out _));
    }

    [Theory]
    [InlineData("{bad json", null)]
    [InlineData("[1,2]", null)]
    [InlineData("{\"messages\":\"hi\"}", "messages")]
    [InlineData("{}", "messages")]
    [InlineData("{\"messages\":[]}", "messages")]
    [InlineData("{\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}", "messages[0].role")]
    [InlineData("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}", "messages[0].content")]
    [InlineData("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":3}", "temperature")]
    [InlineData("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":\"hot\"}", "temperature")]
    [InlineData("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"top_p\":1.5}", "top_p")]
    [InlineData("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":0}", "max_tokens")]
    [InlineData("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_completion_tokens\":-5}", "max_completion_tokens")]
    [InlineData("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"n\":100}", "n")]
    [InlineData("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stop\":[1]}", "stop")]
    [InlineData("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}", "stop")]
    [InlineData("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"seed\":1.5}", "seed")]
    [InlineData("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"presence_penalty\":9}", "presence_penalty")]
    [InlineData("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"frequency_penalty\":-9}", "frequency_penalty")]
    [InlineData("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"top_logprobs\":3}", "top_logprobs")]
    [InlineData("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"logprobs\":true,\"top_logprobs\":30}", "top_logprobs")]
    [InlineData("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":\"yes\"}", "stream")]
    [InlineData("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream_options\":{\"include_usage\":true}}", "stream_options")]
    [InlineData("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"model\":5}", "model")]
    public async Task ChatBadInputIs400NamingTheParameter(string body, string? param)
    {
        var (status, json) = await ServerFixture.PostAsync(f.Http, "v1/chat/completions", ServerFixture.Raw(body));
        Assert.Equal(400, status);
        AssertError(json, param);
    }

    [Theory]
    [InlineData("v1/completions", "{}", "prompt")]
    [InlineData("v1/completions", "{\"prompt\":[99999]}", "prompt")]
    [InlineData("v1/completions", "{\"prompt\":{}}", "prompt")]
    [InlineData("v1/completions", "{\"prompt\":\"x\",\"logprobs\":9}", "logprobs")]
    [InlineData("v1/embeddings", "{}", "input")]
    [InlineData("v1/embeddings", "{\"input\":\"x\",\"encoding_format\":\"hex\"}", "encoding_format")]
    public async Task OtherEndpointsBadInputIs400(string path, string body, string param)
    {
        var (status, json) = await ServerFixture.PostAsync(f.Http, path, ServerFixture.Raw(body));
        Assert.Equal(400, status);
        AssertError(json, param);
    }

    [Fact]
    public async Task PromptLongerThanTheContextIs400WithTheCounts()
    {
        string longText = string.Concat(Enumerable.Repeat("the whale swam far across the grey sea ", 100));
        var (status, json) = await ServerFixture.PostAsync(f.Http, "v1/chat/completions",
            ServerFixture.Json(new { messages = new[] { new { role = "user", content = longText } } }));
        Assert.Equal(400, status);
        AssertError(json, "messages");
        string msg = json.GetProperty("error").GetProperty("message").GetString()!;
        Assert.Contains($"at most {f.Engine.ContextLength - 1} fit", msg);
        Assert.Matches(@"the prompt has \d{3,} tokens", msg);
        Assert.Equal("context_length_exceeded", json.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task UnknownModelIs404()
    {
        var (status, json) = await ServerFixture.PostAsync(f.Http, "v1/chat/completions",
            ServerFixture.Json(new { model = "gpt-9", messages = new[] { new { role = "user", content = "hi" } } }));
        Assert.Equal(404, status);
        AssertError(json, "model", "not_found_error");
        using var resp = await f.Http.GetAsync("v1/models/gpt-9");
        Assert.Equal(HttpStatusCode.NotFound, resp.StatusCode);
        using var route = await f.Http.GetAsync("v1/nothing-here");
        Assert.Equal(HttpStatusCode.NotFound, route.StatusCode);
        AssertError(JsonDocument.Parse(await route.Content.ReadAsStringAsync()).RootElement, null, "not_found_error");
    }

    private static string OversizedChat() => "{\"messages\":[{\"role\":\"user\",\"content\":\"" + new string('a', 2 << 20) + "\"}]}";

    [Fact]
    public async Task OversizedBodyIs413EvenWhenTheClientSendsItWhole()
    {
        // Most clients send the whole body without waiting ("Expect: 100-continue" off, HttpClient's default): the
        // server reads it to the end before answering, so they get the 413, not a broken pipe. Twice on one
        // connection, and the server still answers afterwards.
        for (int i = 0; i < 2; i++)
        {
            var (status, json) = await ServerFixture.PostAsync(f.Http, "v1/chat/completions", ServerFixture.Raw(OversizedChat()));
            Assert.Equal(413, status);
            AssertError(json, null, "invalid_request_error");
            Assert.Contains("1,048,576", json.GetProperty("error").GetProperty("message").GetString());
        }
        Assert.Equal(HttpStatusCode.OK, (await f.Http.GetAsync("health")).StatusCode);
    }

    [Fact]
    public async Task OversizedChunkedBodyIs413()
    {
        // No Content-Length (chunked transfer): the limit is enforced on the bytes as they arrive.
        var content = new StreamContent(new NoLengthStream(Encoding.UTF8.GetBytes(OversizedChat())));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        var (status, json) = await ServerFixture.PostAsync(f.Http, "v1/chat/completions", content);
        Assert.Equal(413, status);
        AssertError(json, null);
    }

    [Fact]
    public async Task OversizedBodyIs413WithExpectContinue()
    {
        // With "Expect: 100-continue" (what curl sends for large bodies) the client waits for the server's verdict
        // and never sends the body; the long timeout keeps a loaded CI machine from sending it anyway.
        using var http = new HttpClient(new SocketsHttpHandler { Expect100ContinueTimeout = TimeSpan.FromSeconds(60) })
        {
            BaseAddress = f.Url,
            Timeout = TimeSpan.FromSeconds(60),
        };
        http.DefaultRequestHeaders.ExpectContinue = true;
        var (status, json) = await ServerFixture.PostAsync(http, "v1/chat/completions", ServerFixture.Raw(OversizedChat()));
        Assert.Equal(413, status);
        AssertError(json, null);
    }

    /// <summary>A readable stream that does not tell its length, so HttpClient sends it chunked.</summary>
    private sealed class NoLengthStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
    }

    [Fact]
    public async Task ApiKeysAreRequiredWhenConfigured()
    {
        await using var server = await LoomServer.StartAsync(new ServerOptions { Models = [ServerFixture.ModelPath], Port = 0, ApiKeys = ["k-one", "k-two"], Parallel = 1 });
        using var http = new HttpClient { BaseAddress = server.Url };
        object body = new { messages = new[] { new { role = "user", content = "hi" } }, max_tokens = 2 };
        foreach (var key in new string?[] { null, "wrong", "k-one-", "" })
        {
            var (status, json) = await ServerFixture.PostAsync(http, "v1/chat/completions", ServerFixture.Json(body), key);
            Assert.Equal(401, status);
            AssertError(json, null, "authentication_error");
        }
        foreach (var key in new[] { "k-one", "k-two" })
            Assert.Equal(200, (await ServerFixture.PostAsync(http, "v1/chat/completions", ServerFixture.Json(body), key)).Status);
        // The page and health stay open; the page asks for the key.
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("health")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/")).StatusCode);
    }

    [Fact]
    public async Task FullQueueIs429()
    {
        // The model's forward pass waits on a gate, so A holds the only slot for as long as the test needs,
        // however slow the machine (a fixed delay left a window that a GC pause could close).
        using var gate = new ManualResetEventSlim(false);
        await using var server = await LoomServer.StartAsync(new ServerOptions { Port = 0, Parallel = 1, QueueCapacity = 1 }, [SlowModel.Load(0, gate)]);
        using var http = new HttpClient { BaseAddress = server.Url };
        var engine = server.Engines[0];
        object Long(int seed) => new { messages = new[] { new { role = "user", content = "hi" } }, max_tokens = 60, seed, stream = true };
        try
        {
            // A holds the only slot...
            var aSend = http.SendAsync(new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = ServerFixture.Json(Long(1)) }, HttpCompletionOption.ResponseHeadersRead);
            await WaitFor(() => engine.ActiveSequences == 1 && engine.QueueLength == 0);
            // ... B waits in the queue ...
            var b = http.SendAsync(new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = ServerFixture.Json(Long(2)) }, HttpCompletionOption.ResponseHeadersRead);
            await WaitFor(() => engine.QueueLength == 1);
            // ... so C is refused.
            var (status, json) = await ServerFixture.PostAsync(http, "v1/chat/completions", ServerFixture.Json(Long(3)));
            Assert.Equal(429, status);
            AssertError(json, null, "rate_limit_error");
            gate.Set();
            using var a = await aSend;
            var (text, finish, _) = await ServerFixture.ReadChatStreamAsync(a);
            Assert.Equal("length", finish);
            using var bResp = await b;
            Assert.Equal(HttpStatusCode.OK, bResp.StatusCode);
            await ServerFixture.ReadChatStreamAsync(bResp);
        }
        finally { gate.Set(); }
    }

    internal static async Task WaitFor(Func<bool> condition, int timeoutMs = 20000)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.ElapsedMilliseconds > timeoutMs) throw new TimeoutException("condition not reached in time");
            await Task.Delay(5);
        }
    }
}
