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
        [CommandOption("--queue <N>")] [DefaultValue(32)] [Description("Queue of the server started here: clients beyond slots + queue get 429 and retry.")] public int Queue { get; init; }
        [CommandOption("--verify <N>")] [DefaultValue(1000)] [Description("Afterwards, check up to N responses (evenly spread) against a lone request with the same prompt and seed; 0: none.")]
        public int Verify { get; init; }
        [CommandOption("--json")] [Description("Print {\"clients\",\"requests\",\"errors\",\"requests_per_s\",\"tokens_per_s\",\"ttft_p50_ms\",\"ttft_p99_ms\",\"latency_p50_ms\",\"latency_p99_ms\",\"verified\",\"mismatches\"}, and with the server started here the engine's steps, rows per step and forward time.")]
        public bool Json { get; init; }

        public override ValidationResult Validate()
        {
            if (Clients is < 1 or > 1024) return ValidationResult.Error("--clients must be in 1..1024");
            if (Requests < 1) return ValidationResult.Error("--requests must be at least 1");
            if (Duration is < 1 or > 3600) return ValidationResult.Error("--duration must be in 1..3600 seconds");
            if (MaxTokens < 1) return ValidationResult.Error("--max-tokens must be at least 1");
            if (Parallel < 1) return ValidationResult.Error("--parallel must be at least 1");
            if (Verify < 0) return ValidationResult.Error("--verify must be >= 0");
            if (Queue < 0) return ValidationResult.Error("--queue must be >= 0");
            if (Url != null && !(Uri.TryCreate(Url, UriKind.Absolute, out var u) && u.Scheme is "http" or "https")) return ValidationResult.Error($"--url {Url}: not an http(s) URL");
            return ValidationResult.Success();
        }
    }

    /// <summary>This process's working set after a full collection (the server runs in-process when no --url is given).</summary>
    private static long SettledMemory()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return System.Diagnostics.Process.GetCurrentProcess().WorkingSet64;
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
                Models = [ModelPaths.Resolve(null)], Port = 0, Parallel = s.Parallel, QueueCapacity = s.Queue,
                Log = s.Json ? null : line => AnsiConsole.WriteLine(line),
            });
            url = server.Url;
        }
        try
        {
            long before = 0;
            if (server != null)
            {
                // One round of every client first, so the memory baseline includes what any load needs (JIT code, buffers, threads).
                await LoadTest.RunAsync(url, s.Clients, s.Clients, s.MaxTokens, null, s.ApiKey, ct: cancellationToken);
                before = SettledMemory();
            }
            // The engine's counters over the timed part only: steps, rows and seconds inside forward passes.
            var metrics = server?.Engines[0].Metrics;
            long steps0 = 0, rows0 = 0, steps = 0, rows = 0;
            double busy0 = 0, busy = 0;
            void Timed(bool starting)
            {
                if (metrics == null) return;
                if (starting) { steps0 = metrics.Steps; rows0 = metrics.Rows; busy0 = metrics.BusySeconds; }
                else { steps = metrics.Steps - steps0; rows = metrics.Rows - rows0; busy = metrics.BusySeconds - busy0; }
            }
            var r = await LoadTest.RunAsync(url, s.Clients, s.Requests, s.MaxTokens, s.Duration is int d ? TimeSpan.FromSeconds(d) : null, s.ApiKey,
                ct: cancellationToken, verify: s.Verify, timed: Timed);
            long after = server != null ? SettledMemory() : 0;
            if (s.Json)
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["clients"] = r.Clients, ["requests"] = r.Requests, ["errors"] = r.Errors, ["rejected"] = r.Rejected,
                    ["requests_per_s"] = Math.Round(r.RequestsPerSecond, 3), ["tokens_per_s"] = Math.Round(r.TokensPerSecond, 1),
                    ["ttft_p50_ms"] = Math.Round(r.TtftP50Ms, 1), ["ttft_p99_ms"] = Math.Round(r.TtftP99Ms, 1),
                    ["latency_p50_ms"] = Math.Round(r.LatencyP50Ms, 1), ["latency_p99_ms"] = Math.Round(r.LatencyP99Ms, 1),
                    ["verified"] = r.Verified, ["mismatches"] = r.Mismatches,
                }.Concat(server == null ? [] : new Dictionary<string, object>
                {
                    ["server_memory_before_mib"] = before >> 20, ["server_memory_after_mib"] = after >> 20,
                    ["engine_steps"] = steps, ["rows_per_step"] = Math.Round(rows / Math.Max(1.0, steps), 2),
                    ["forward_ms_per_step"] = Math.Round(1000 * busy / Math.Max(1, steps), 3),
                    ["forward_share_of_wall"] = Math.Round(busy / r.Seconds, 3),
                })
                 .ToDictionary()));
            }
            else
            {
                AnsiConsole.WriteLine($"{r.Clients} clients, {r.Requests} requests in {r.Seconds:F1} s: {r.RequestsPerSecond:F2} requests/s, {r.TokensPerSecond:F1} tokens/s generated");
                AnsiConsole.WriteLine($"time to first token p50 {r.TtftP50Ms:F0} ms, p99 {r.TtftP99Ms:F0} ms; latency p50 {r.LatencyP50Ms:F0} ms, p99 {r.LatencyP99Ms:F0} ms");
                AnsiConsole.WriteLine($"errors {r.Errors}, rejected (429) {r.Rejected}");
                if (s.Verify > 0) AnsiConsole.WriteLine($"verified against lone same-seed requests: {r.Verified}, mismatches {r.Mismatches}");
                foreach (var m in r.MismatchSamples ?? []) AnsiConsole.WriteLine("  " + m);
                if (server != null)
                    AnsiConsole.WriteLine($"engine: {steps} steps, {rows / Math.Max(1.0, steps):F2} rows per step, forward {1000 * busy / Math.Max(1, steps):F3} ms per step, {100 * busy / r.Seconds:F0}% of the wall time");
                if (server != null) AnsiConsole.WriteLine($"server memory (working set after a full GC): {before >> 20} MiB before, {after >> 20} MiB after");
                foreach (var e in r.ErrorSamples) AnsiConsole.WriteLine("  " + e);
            }
            return r.Errors == 0 && r.Mismatches == 0 ? 0 : 1;
        }
        finally
        {
            if (server != null) await server.DisposeAsync();
        }
    }
}
