using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Loom.Serving.Engine;

namespace Loom.Serving.Api;

/// <summary>HTTP request counters, and the Prometheus text exposition of them and of every engine's counters.</summary>
public sealed class ServerMetrics
{
    private static readonly HashSet<string> Endpoints = ["/v1/models", "/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/health", "/metrics", "/"];
    private readonly ConcurrentDictionary<(string Endpoint, int Status), long> _requests = new();
    private long _latencyMicros, _latencyCount;

    public void Request(string path, int status, double seconds)
    {
        // Unknown paths share one label so a scanner cannot grow the table.
        string endpoint = Endpoints.Contains(path) ? path : path.StartsWith("/v1/models/", StringComparison.Ordinal) ? "/v1/models/{id}" : "other";
        _requests.AddOrUpdate((endpoint, status), 1, (_, n) => n + 1);
        Interlocked.Add(ref _latencyMicros, (long)(seconds * 1e6));
        Interlocked.Increment(ref _latencyCount);
    }

    public string Prometheus(IReadOnlyList<BatchEngine> engines)
    {
        var sb = new StringBuilder();
        void Help(string name, string type, string help) => sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append("\n# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
        void Line(string name, string labels, double v) => sb.Append(name).Append(labels.Length > 0 ? "{" + labels + "}" : "").Append(' ').Append(v.ToString("R", CultureInfo.InvariantCulture)).Append('\n');

        Help("loom_http_requests_total", "counter", "HTTP requests by endpoint and status.");
        foreach (var ((endpoint, status), n) in _requests.OrderBy(kv => kv.Key.Endpoint).ThenBy(kv => kv.Key.Status))
            Line("loom_http_requests_total", $"endpoint=\"{endpoint}\",status=\"{status}\"", n);
        Help("loom_http_request_duration_seconds", "summary", "Time from request to the end of the response.");
        Line("loom_http_request_duration_seconds_sum", "", Interlocked.Read(ref _latencyMicros) / 1e6);
        Line("loom_http_request_duration_seconds_count", "", Interlocked.Read(ref _latencyCount));

        void PerModel(string name, string type, string help, Func<BatchEngine, double> value)
        {
            Help(name, type, help);
            foreach (var e in engines) Line(name, $"model=\"{e.Model.Name}\"", value(e));
        }
        PerModel("loom_requests_completed_total", "counter", "Sequences that finished (stop or length).", e => e.Metrics.Completed);
        PerModel("loom_requests_cancelled_total", "counter", "Sequences cancelled because the client went away.", e => e.Metrics.Cancelled);
        PerModel("loom_requests_rejected_total", "counter", "Requests refused with 429 because the queue was full.", e => e.Metrics.Rejected);
        PerModel("loom_requests_timed_out_total", "counter", "Sequences ended by the per-request time limit.", e => e.Metrics.TimedOutCount);
        PerModel("loom_prompt_tokens_total", "counter", "Prompt tokens received.", e => e.Metrics.PromptTokens);
        PerModel("loom_prompt_cached_tokens_total", "counter", "Prompt tokens reused from a slot's cache (prefix reuse).", e => e.Metrics.CachedTokens);
        PerModel("loom_completion_tokens_total", "counter", "Tokens generated.", e => e.Metrics.CompletionTokens);
        PerModel("loom_queue_length", "gauge", "Requests waiting for a slot.", e => e.QueueLength);
        PerModel("loom_active_sequences", "gauge", "Sequences in the running batch.", e => e.ActiveSequences);
        PerModel("loom_kv_cache_bytes", "gauge", "Bytes of KV cache allocated for all slots.", e => e.KvBytes);
        PerModel("loom_batch_steps_total", "counter", "Forward passes run.", e => e.Metrics.Steps);
        PerModel("loom_batch_rows_total", "counter", "Rows (sequences) over all forward passes.", e => e.Metrics.Rows);
        PerModel("loom_batch_forward_seconds_total", "counter", "Seconds spent in forward passes.", e => e.Metrics.BusySeconds);
        PerModel("loom_time_to_first_token_seconds_sum", "counter", "Sum of times from request to first generated token.", e => e.Metrics.TimeToFirstTokenSeconds);
        PerModel("loom_time_to_first_token_seconds_count", "counter", "Requests that produced a first token.", e => e.Metrics.FirstTokens);
        PerModel("loom_tokens_per_second", "gauge", "Generated tokens per second of forward-pass time.", e => e.Metrics.BusySeconds > 0 ? e.Metrics.CompletionTokens / e.Metrics.BusySeconds : 0);
        return sb.ToString();
    }
}
