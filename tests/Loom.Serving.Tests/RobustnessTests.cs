using System.Net;
using System.Text;
using System.Text.Json;

namespace Loom.Serving.Tests;

/// <summary>Fuzzed bodies, concurrency against a lone request, disconnects, prefix reuse, metrics.</summary>
[Collection("server")]
public sealed class RobustnessTests(ServerFixture f)
{
    private static readonly string[] Seeds =
    [
        """{"model":"default","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello there"}],"max_tokens":3,"temperature":0.5,"top_p":0.9,"stop":["\n"],"seed":4,"n":2,"logprobs":true,"top_logprobs":2}""",
        """{"prompt":["The sea","The land"],"max_tokens":2,"logprobs":2,"n":1,"seed":1}""",
        """{"prompt":[10,20,30],"max_tokens":2,"stream":true,"stream_options":{"include_usage":true}}""",
        """{"input":["a b c",[1,2,3]],"encoding_format":"base64"}""",
    ];

    private static readonly string[] Paths = ["v1/chat/completions", "v1/completions", "v1/completions", "v1/embeddings"];
    private static readonly string[] Junk = ["null", "true", "-1", "1e308", "\"\"", "[]", "{}", "[[[[[]]]]]", "\"\\ud800\"", "99999999999999999999", "0.0000001", "\"user\"", "[\"x\"]", "-0"];

    [Fact]
    public async Task FuzzedJsonBodiesNeverCrashTheServer()
    {
        var rng = new Random(1234);
        int seen4xx = 0, seen2xx = 0;
        for (int i = 0; i < 200; i++)
        {
            int which = rng.Next(Seeds.Length);
            string body = Mutate(Seeds[which], rng);
            using var resp = await f.Http.PostAsync(Paths[which], ServerFixture.Raw(body));
            int status = (int)resp.StatusCode;
            var text = await resp.Content.ReadAsStringAsync();
            Assert.True(status < 500, $"{status} for {body}: {text}");
            if (status >= 400)
            {
                seen4xx++;
                Assert.True(JsonDocument.Parse(text).RootElement.TryGetProperty("error", out _), text);
            }
            else seen2xx++;
        }
        Assert.True(seen4xx > 20 && seen2xx > 20, $"the mutations are not mixing valid and invalid bodies: {seen2xx} ok, {seen4xx} refused");
        Assert.Equal(HttpStatusCode.OK, (await f.Http.GetAsync("health")).StatusCode);
        await ErrorTests.WaitFor(() => f.Engine.ActiveSequences == 0);
    }

    /// <summary>Byte-level and structural mutations: flips, cuts, inserted junk values, duplicated spans.</summary>
    private static string Mutate(string s, Random rng)
    {
        int kinds = rng.Next(1, 4);
        for (int k = 0; k < kinds; k++)
        {
            int at = rng.Next(s.Length);
            switch (rng.Next(6))
            {
                case 0: s = s[..at] + (char)rng.Next(1, 128) + s[(at + 1)..]; break;
                case 1: s = s[..at]; break;
                case 2:
                {
                    // Replace a value after a colon with junk.
                    int colon = s.IndexOf(':', at);
                    if (colon < 0) break;
                    int end = colon + 1;
                    while (end < s.Length && s[end] is not (',' or '}')) end++;
                    s = s[..(colon + 1)] + Junk[rng.Next(Junk.Length)] + s[end..];
                    break;
                }
                case 3: s = s[..at] + s[at..Math.Min(s.Length, at + rng.Next(1, 20))] + s[at..]; break;
                case 4: break;   // keep it valid some of the time
                default: s = s.Remove(at, Math.Min(rng.Next(1, 5), s.Length - at)); break;
            }
            if (s.Length == 0) s = "{";
        }
        return s;
    }

    private static object Story(int seed, int maxTokens, bool stream) => new
    {
        model = "default", messages = new[] { new { role = "user", content = "Tell me about the northern islands." } },
        max_tokens = maxTokens, temperature = 0.9, seed, stream, stream_options = stream ? new { include_usage = true } : null,
    };

    private async Task<string> StreamText(object body)
    {
        using var req = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = ServerFixture.Json(body) };
        using var resp = await f.Http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
        var (text, finish, usage) = await ServerFixture.ReadChatStreamAsync(resp);
        Assert.NotNull(finish);
        Assert.NotNull(usage);
        return text;
    }

    [Fact]
    public async Task EightConcurrentStreamsWithOneSeedMatchALoneRequest()
    {
        string lone = await StreamText(Story(99, 40, true));
        Assert.False(string.IsNullOrWhiteSpace(lone));
        var texts = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => StreamText(Story(99, 40, true))));
        foreach (var t in texts) Assert.Equal(lone, t);
        // Different seeds in the same batch still differ (the sampler is per request).
        var other = await Task.WhenAll(StreamText(Story(100, 40, true)), StreamText(Story(101, 40, true)));
        Assert.NotEqual(other[0], other[1]);
    }

    [Fact]
    public async Task ADisconnectedClientFreesItsSlot()
    {
        // A slowed model (20 ms a step) so the sequence is surely still generating when the client leaves.
        await using var server = await Hosting.LoomServer.StartAsync(new Hosting.ServerOptions { Port = 0, Parallel = 2 }, [SlowModel.Load(20)]);
        // No draining: disposing the unfinished response closes the socket at once (the default drains up to 2 s).
        using var http = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = server.Url };
        var engine = server.Engines[0];
        using var cts = new CancellationTokenSource();
        var req = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = ServerFixture.Json(Story(5, 200, true)) };
        var resp = await http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        var reader = new StreamReader(await resp.Content.ReadAsStreamAsync(cts.Token));
        for (int i = 0; i < 6; i++) await reader.ReadLineAsync(cts.Token);   // a few chunks arrived
        Assert.Equal(1, engine.ActiveSequences);
        cts.Cancel();
        reader.Dispose();
        resp.Dispose();
        await ErrorTests.WaitFor(() => engine.ActiveSequences == 0, 10000);
        Assert.Equal(1, engine.Metrics.Cancelled);
        Assert.True(engine.Metrics.CompletionTokens < 150, $"{engine.Metrics.CompletionTokens} tokens: generation went on after the disconnect");
        // The freed slot serves the next request.
        var (status, _) = await ServerFixture.PostAsync(http, "v1/chat/completions", ServerFixture.Json(Story(6, 3, false)));
        Assert.Equal(200, status);
    }

    [Fact]
    public async Task MultiTurnChatReusesItsHistoryFromTheCache()
    {
        var turn1 = new List<object> { new { role = "user", content = "Describe the harbour town in winter." } };
        var (s1, r1) = await ServerFixture.PostAsync(f.Http, "v1/chat/completions", ServerFixture.Json(new { messages = turn1, max_tokens = 20, seed = 1 }));
        Assert.Equal(200, s1);
        string reply = r1.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
        int prompt1 = r1.GetProperty("usage").GetProperty("prompt_tokens").GetInt32();
        var turn2 = new List<object>(turn1) { new { role = "assistant", content = reply }, new { role = "user", content = "And in summer?" } };
        var (s2, r2) = await ServerFixture.PostAsync(f.Http, "v1/chat/completions", ServerFixture.Json(new { messages = turn2, max_tokens = 10, seed = 1 }));
        Assert.Equal(200, s2);
        int cached = r2.GetProperty("usage").GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32();
        Assert.True(cached >= prompt1 - 1, $"only {cached} of the first turn's {prompt1} prompt tokens were reused");
    }

    [Fact]
    public async Task MetricsExposeCountersInPrometheusFormat()
    {
        await ServerFixture.PostAsync(f.Http, "v1/completions", ServerFixture.Json(new { prompt = "Wind", max_tokens = 3 }));
        var text = await f.Http.GetStringAsync("metrics");
        foreach (var name in new[] { "loom_http_requests_total{endpoint=\"/v1/completions\",status=\"200\"}", "loom_prompt_tokens_total{model=\"default\"}",
                     "loom_completion_tokens_total", "loom_queue_length", "loom_time_to_first_token_seconds_sum", "loom_tokens_per_second", "# TYPE loom_queue_length gauge" })
            Assert.Contains(name, text);
        var completion = text.Split('\n').First(l => l.StartsWith("loom_completion_tokens_total{", StringComparison.Ordinal));
        Assert.True(double.Parse(completion.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture) >= 3);
        Assert.Equal("{\"status\":\"ok\"}", await f.Http.GetStringAsync("health"));
    }
}
