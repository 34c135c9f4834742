using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Loom.Serving.Hosting;

/// <summary>What a load test measured; 429 answers are counted apart from errors. <see cref="Verified"/> responses were
/// compared with a lone request of the same prompt and seed, <see cref="Mismatches"/> of them differed.</summary>
public sealed record LoadTestResult(int Clients, int Requests, int Errors, int Rejected, double Seconds, long Tokens,
    double RequestsPerSecond, double TokensPerSecond, double TtftP50Ms, double TtftP99Ms, double LatencyP50Ms, double LatencyP99Ms,
    IReadOnlyList<string> ErrorSamples, int Verified = 0, int Mismatches = 0, IReadOnlyList<string>? MismatchSamples = null);

/// <summary>One streamed response as a client saw it: what it asked for and the text it got.</summary>
public sealed record LoadTestResponse(string Prompt, long Seed, int MaxTokens, string Text, string FinishReason, int CompletionTokens);

/// <summary>
/// A bounded load test: N clients each send streaming chat completions one after another until M requests have
/// been sent (or the time is up), timing the first token and the whole response. Afterwards (untimed) each response
/// is checked against a lone request with the same prompt and seed: batching must not change what a request gets.
/// </summary>
public static class LoadTest
{
    /// <param name="verify">Most responses to check against lone requests (evenly spread); 0 checks none.</param>
    /// <param name="timed">Called with true just before the timed part and false just after it (the server's counters
    /// can be read there, apart from warm-up and verification).</param>
    public static async Task<LoadTestResult> RunAsync(Uri url, int clients, int requests, int maxTokens, TimeSpan? duration = null,
        string? apiKey = null, string? model = null, CancellationToken ct = default, int verify = 0, Action<bool>? timed = null)
    {
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = clients + 4 }) { BaseAddress = url, Timeout = TimeSpan.FromMinutes(10) };
        if (apiKey != null) http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", apiKey);
        // One untimed request first, so start-up costs (JIT, first allocations) are not counted.
        using (var warm = await http.PostAsync("v1/chat/completions", new StringContent(
            JsonSerializer.Serialize(new { model, messages = new[] { new { role = "user", content = "Hello" } }, max_tokens = 4 }), Encoding.UTF8, "application/json"), ct))
        {
            if (!warm.IsSuccessStatusCode) throw new InvalidOperationException($"{url}: warm-up request failed with {(int)warm.StatusCode}: {await warm.Content.ReadAsStringAsync(ct)}");
        }
        // Then an untimed round of the same load (two requests per client), so the tiered JIT's recompilation of the
        // hot paths, which takes a tenth of the CPU in the first seconds, is not counted either.
        await MeasureAsync(http, clients, 2 * clients, maxTokens, null, model, null, ct);
        var responses = new List<LoadTestResponse>();
        timed?.Invoke(true);
        var result = await MeasureAsync(http, clients, requests, maxTokens, duration, model, responses, ct);
        timed?.Invoke(false);
        if (verify <= 0 || responses.Count == 0) return result;
        var (verified, mismatches, samples) = await VerifyAsync(http, model, Spread(responses, verify), ct);
        return result with { Verified = verified, Mismatches = mismatches, MismatchSamples = samples };
    }

    /// <summary>At most <paramref name="count"/> of the responses, evenly spaced (all of them when there are few enough).</summary>
    private static List<LoadTestResponse> Spread(List<LoadTestResponse> all, int count)
    {
        if (all.Count <= count) return all;
        var picked = new List<LoadTestResponse>(count);
        for (int i = 0; i < count; i++) picked.Add(all[(int)((long)i * all.Count / count)]);
        return picked;
    }

    /// <summary>
    /// Sends each response's request again, alone (one at a time), and compares text, finish reason and token count.
    /// Returns how many were checked, how many differed, and a few differences described.
    /// </summary>
    public static async Task<(int Verified, int Mismatches, List<string> Samples)> VerifyAsync(HttpClient http, string? model,
        IReadOnlyList<LoadTestResponse> responses, CancellationToken ct = default)
    {
        int mismatches = 0;
        var samples = new List<string>();
        foreach (var r in responses)
        {
            var lone = await StreamOnceAsync(http, model, r.Prompt, r.Seed, r.MaxTokens, ct);
            if (lone.Text == r.Text && lone.FinishReason == r.FinishReason && lone.CompletionTokens == r.CompletionTokens) continue;
            mismatches++;
            if (samples.Count < 3)
                samples.Add($"seed {r.Seed}: under load {r.CompletionTokens} tokens ({r.FinishReason}) \"{Clip(r.Text)}\"; alone {lone.CompletionTokens} tokens ({lone.FinishReason}) \"{Clip(lone.Text)}\"");
        }
        return (responses.Count, mismatches, samples);
    }

    /// <summary>One lone streaming request, as the verification sends it.</summary>
    public static async Task<LoadTestResponse> LoneAsync(HttpClient http, string? model, string prompt, long seed, int maxTokens, CancellationToken ct = default)
    {
        var r = await StreamOnceAsync(http, model, prompt, seed, maxTokens, ct);
        return new LoadTestResponse(prompt, seed, maxTokens, r.Text, r.FinishReason, r.CompletionTokens);
    }

    private static string Clip(string s) => s.Length <= 80 ? s : s[..80] + "...";

    private static string Body(string? model, string prompt, long seed, int maxTokens) => JsonSerializer.Serialize(new Dictionary<string, object?>
    {
        ["model"] = model,
        ["messages"] = new[] { new { role = "user", content = prompt } },
        ["max_tokens"] = maxTokens, ["temperature"] = 0.8, ["seed"] = seed, ["stream"] = true,
        ["stream_options"] = new { include_usage = true },
    });

    /// <summary>Thrown for a non-success status; 429 is told apart by the load loop.</summary>
    private sealed class StatusException(HttpStatusCode status, string text) : Exception($"{(int)status}: {text}")
    {
        public HttpStatusCode Status { get; } = status;
    }

    /// <summary>One streaming request read to its end: the concatenated content, the finish reason, usage's completion
    /// tokens, and when the first content arrived (ms after <paramref name="start"/>; -1 if none did).</summary>
    private static async Task<(string Text, string FinishReason, int CompletionTokens, double FirstMs)> StreamOnceAsync(
        HttpClient http, string? model, string prompt, long seed, int maxTokens, CancellationToken ct, long start = 0)
    {
        using var req = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(Body(model, prompt, seed, maxTokens), Encoding.UTF8, "application/json") };
        using var resp = await http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead, ct);
        if (!resp.IsSuccessStatusCode) throw new StatusException(resp.StatusCode, await resp.Content.ReadAsStringAsync(ct));
        using var reader = new StreamReader(await resp.Content.ReadAsStreamAsync(ct));
        var text = new StringBuilder();
        double first = -1;
        int usage = -1;
        string? finish = null;
        bool done = false;
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
            var data = line.AsMemory(6);
            if (data.Span.SequenceEqual("[DONE]")) { done = true; break; }
            using var doc = JsonDocument.Parse(data);
            var root = doc.RootElement;
            if (root.TryGetProperty("error", out var err)) throw new InvalidOperationException(err.GetRawText());
            if (root.GetProperty("choices") is { ValueKind: JsonValueKind.Array } ch && ch.GetArrayLength() > 0)
            {
                var choice = ch[0];
                if (choice.GetProperty("delta").TryGetProperty("content", out var c) && c.GetString() is { Length: > 0 } piece)
                {
                    if (first < 0 && start != 0) first = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                    text.Append(piece);
                }
                if (choice.TryGetProperty("finish_reason", out var f) && f.ValueKind == JsonValueKind.String) finish = f.GetString();
            }
            if (root.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object) usage = u.GetProperty("completion_tokens").GetInt32();
        }
        if (!done || usage < 0 || finish == null) throw new InvalidOperationException("the stream ended without a finish reason, usage and [DONE]");
        return (text.ToString(), finish, usage, first);
    }

    private static async Task<LoadTestResult> MeasureAsync(HttpClient http, int clients, int requests, int maxTokens, TimeSpan? duration,
        string? model, List<LoadTestResponse>? responses, CancellationToken ct)
    {
        var ttft = new List<double>();
        var latency = new List<double>();
        var errorSamples = new List<string>();
        int next = 0, errors = 0, rejected = 0, done = 0;
        long tokens = 0;
        var sw = Stopwatch.StartNew();
        bool More() => duration is { } d ? sw.Elapsed < d : Interlocked.Increment(ref next) <= requests;

        async Task Client(int client)
        {
            int i = 0;
            while (More() && !ct.IsCancellationRequested)
            {
                i++;
                string prompt = $"Tell me a story about the sea, number {client}.";
                long seed = client * 100000L + i;
                var start = Stopwatch.GetTimestamp();
                try
                {
                    var (text, finish, usage, first) = await StreamOnceAsync(http, model, prompt, seed, maxTokens, ct, start);
                    double total = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                    lock (latency)
                    {
                        latency.Add(total);
                        ttft.Add(first < 0 ? total : first);
                        responses?.Add(new LoadTestResponse(prompt, seed, maxTokens, text, finish, usage));
                    }
                    Interlocked.Add(ref tokens, usage);
                    Interlocked.Increment(ref done);
                }
                catch (StatusException e) when (e.Status == HttpStatusCode.TooManyRequests)
                {
                    Interlocked.Increment(ref rejected);
                    await Task.Delay(50, ct);
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested) { break; }
                catch (Exception e)
                {
                    Interlocked.Increment(ref errors);
                    lock (errorSamples) if (errorSamples.Count < 5) errorSamples.Add(e.Message);
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, clients).Select(Client));
        double seconds = sw.Elapsed.TotalSeconds;
        return new LoadTestResult(clients, done, errors, rejected, seconds, tokens, done / seconds, tokens / seconds,
            Percentile(ttft, 0.5), Percentile(ttft, 0.99), Percentile(latency, 0.5), Percentile(latency, 0.99), errorSamples);
    }

    private static double Percentile(List<double> values, double q)
    {
        if (values.Count == 0) return 0;
        var sorted = values.OrderBy(v => v).ToArray();
        return sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];
    }
}
