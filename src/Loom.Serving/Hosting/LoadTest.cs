using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Loom.Serving.Hosting;

/// <summary>What a load test measured; 429 answers are counted apart from errors.</summary>
public sealed record LoadTestResult(int Clients, int Requests, int Errors, int Rejected, double Seconds, long Tokens,
    double RequestsPerSecond, double TokensPerSecond, double TtftP50Ms, double TtftP99Ms, double LatencyP50Ms, double LatencyP99Ms, IReadOnlyList<string> ErrorSamples);

/// <summary>
/// A bounded load test: N clients each send streaming chat completions one after another until M requests have
/// been sent (or the time is up), timing the first token and the whole response.
/// </summary>
public static class LoadTest
{
    public static async Task<LoadTestResult> RunAsync(Uri url, int clients, int requests, int maxTokens, TimeSpan? duration = null,
        string? apiKey = null, string? model = null, CancellationToken ct = default)
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
        await MeasureAsync(http, clients, 2 * clients, maxTokens, null, model, ct);
        return await MeasureAsync(http, clients, requests, maxTokens, duration, model, ct);
    }

    private static async Task<LoadTestResult> MeasureAsync(HttpClient http, int clients, int requests, int maxTokens, TimeSpan? duration,
        string? model, CancellationToken ct)
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
                var body = JsonSerializer.Serialize(new Dictionary<string, object?>
                {
                    ["model"] = model,
                    ["messages"] = new[] { new { role = "user", content = $"Tell me a story about the sea, number {client}." } },
                    ["max_tokens"] = maxTokens, ["temperature"] = 0.8, ["seed"] = client * 100000 + i, ["stream"] = true,
                    ["stream_options"] = new { include_usage = true },
                });
                var start = Stopwatch.GetTimestamp();
                try
                {
                    using var req = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
                    using var resp = await http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead, ct);
                    if (resp.StatusCode == HttpStatusCode.TooManyRequests) { Interlocked.Increment(ref rejected); await Task.Delay(50, ct); continue; }
                    if (!resp.IsSuccessStatusCode)
                    {
                        Interlocked.Increment(ref errors);
                        string text = $"{(int)resp.StatusCode}: {await resp.Content.ReadAsStringAsync(ct)}";
                        lock (errorSamples) if (errorSamples.Count < 5) errorSamples.Add(text);
                        continue;
                    }
                    using var reader = new StreamReader(await resp.Content.ReadAsStreamAsync(ct));
                    double first = -1;
                    int usage = -1;
                    bool finished = false;
                    while (await reader.ReadLineAsync(ct) is { } line)
                    {
                        if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
                        var data = line[6..];
                        if (data == "[DONE]") { finished = true; break; }
                        using var doc = JsonDocument.Parse(data);
                        var root = doc.RootElement;
                        if (root.TryGetProperty("error", out var err)) throw new InvalidOperationException(err.GetRawText());
                        if (first < 0 && root.GetProperty("choices") is { ValueKind: JsonValueKind.Array } ch && ch.GetArrayLength() > 0
                            && ch[0].GetProperty("delta").TryGetProperty("content", out var c) && c.GetString() is { Length: > 0 })
                            first = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                        if (root.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object) usage = u.GetProperty("completion_tokens").GetInt32();
                    }
                    if (!finished || usage < 0) throw new InvalidOperationException("the stream ended without [DONE] and usage");
                    double total = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                    lock (latency)
                    {
                        latency.Add(total);
                        ttft.Add(first < 0 ? total : first);
                    }
                    Interlocked.Add(ref tokens, usage);
                    Interlocked.Increment(ref done);
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
