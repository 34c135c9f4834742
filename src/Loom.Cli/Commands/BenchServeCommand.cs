using System.ComponentModel;
using System.Text.Json;
using Loom.Serving.Hosting;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Loom.Cli.Commands;

/// <summary>`loom bench serve`: a bounded loopback load test of an OpenAI-compatible server.</summary>
public sealed class BenchServeCommand : AsyncCommand<BenchServeCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--clients <N>")] [DefaultValue(8)] [Description("Concurrent streaming clients.")] public int Clients { get; init; }
        [CommandOption("--requests <M>")] [DefaultValue(32)] [Description("Requests in all (ignored with --duration).")] public int Requests { get; init; }
        [CommandOption("--duration <SECONDS>")] [Description("Run for this long instead of a request count.")] public int? Duration { get; init; }
        [CommandOption("--max-tokens <N>")] [DefaultValue(64)] [Description("Tokens generated per request.")] public int MaxTokens { get; init; }
        [CommandOption("--url <URL>")] [Description("Server to test; default: start loom serve on the bundled model on a free loopback port.")] public string? Url { get; init; }
        [CommandOption("--api-key <KEY>")] public string? ApiKey { get; init; }
        [CommandOption("--parallel <N>")] [DefaultValue(8)] [Description("Slots of the server started here (no --url).")] public int Parallel { get; init; }
        [CommandOption("--json")] [Description("Print {\"clients\",\"requests\",\"errors\",\"requests_per_s\",\"tokens_per_s\",\"ttft_p50_ms\",\"ttft_p99_ms\",\"latency_p50_ms\",\"latency_p99_ms\"}.")]
        public bool Json { get; init; }

        public override ValidationResult Validate()
        {
            if (Clients is < 1 or > 1024) return ValidationResult.Error("--clients must be in 1..1024");
            if (Requests < 1) return ValidationResult.Error("--requests must be at least 1");
            if (Duration is < 1 or > 3600) return ValidationResult.Error("--duration must be in 1..3600 seconds");
            if (MaxTokens < 1) return ValidationResult.Error("--max-tokens must be at least 1");
            if (Parallel < 1) return ValidationResult.Error("--parallel must be at least 1");
            if (Url != null && !(Uri.TryCreate(Url, UriKind.Absolute, out var u) && u.Scheme is "http" or "https")) return ValidationResult.Error($"--url {Url}: not an http(s) URL");
            return ValidationResult.Success();
        }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        LoomServer? server = null;
        Uri url;
        if (s.Url != null) url = new Uri(s.Url.EndsWith('/') ? s.Url : s.Url + "/");
        else
        {
            server = await LoomServer.StartAsync(new ServerOptions
            {
                Models = [ModelPaths.Resolve(null)], Port = 0, Parallel = s.Parallel, QueueCapacity = Math.Max(32, s.Clients),
                Log = s.Json ? null : line => AnsiConsole.WriteLine(line),
            });
            url = server.Url;
        }
        try
        {
            var r = await LoadTest.RunAsync(url, s.Clients, s.Requests, s.MaxTokens, s.Duration is int d ? TimeSpan.FromSeconds(d) : null, s.ApiKey, ct: cancellationToken);
            if (s.Json)
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["clients"] = r.Clients, ["requests"] = r.Requests, ["errors"] = r.Errors, ["rejected"] = r.Rejected,
                    ["requests_per_s"] = Math.Round(r.RequestsPerSecond, 3), ["tokens_per_s"] = Math.Round(r.TokensPerSecond, 1),
                    ["ttft_p50_ms"] = Math.Round(r.TtftP50Ms, 1), ["ttft_p99_ms"] = Math.Round(r.TtftP99Ms, 1),
                    ["latency_p50_ms"] = Math.Round(r.LatencyP50Ms, 1), ["latency_p99_ms"] = Math.Round(r.LatencyP99Ms, 1),
                }));
            }
            else
            {
                AnsiConsole.WriteLine($"{r.Clients} clients, {r.Requests} requests in {r.Seconds:F1} s: {r.RequestsPerSecond:F2} requests/s, {r.TokensPerSecond:F1} tokens/s generated");
                AnsiConsole.WriteLine($"time to first token p50 {r.TtftP50Ms:F0} ms, p99 {r.TtftP99Ms:F0} ms; latency p50 {r.LatencyP50Ms:F0} ms, p99 {r.LatencyP99Ms:F0} ms");
                AnsiConsole.WriteLine($"errors {r.Errors}, rejected (429) {r.Rejected}");
                foreach (var e in r.ErrorSamples) AnsiConsole.WriteLine("  " + e);
            }
            return r.Errors == 0 ? 0 : 1;
        }
        finally
        {
            if (server != null) await server.DisposeAsync();
        }
    }
}
