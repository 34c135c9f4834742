using System.ComponentModel;
using Loom.Serving.Hosting;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Loom.Cli.Commands;

/// <summary>`loom serve`: an OpenAI-compatible HTTP server with continuous batching and a web chat page.</summary>
public sealed class ServeCommand : AsyncCommand<ServeCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--model <FILE_OR_DIR>")] [Description("Model to serve (repeatable; the first is the default); default: the bundled model.")]
        public string[] Model { get; init; } = [];

        [CommandOption("--host <ADDRESS>")] [DefaultValue("127.0.0.1")] [Description("Address to bind (loopback by default; 0.0.0.0 for all interfaces).")]
        public string Host { get; init; } = "127.0.0.1";

        [CommandOption("--port <N>")] [DefaultValue(8080)] [Description("Port (0 picks a free one).")]
        public int Port { get; init; }

        [CommandOption("--api-key <KEY>")] [Description("Require 'Authorization: Bearer KEY' on /v1 (repeatable).")]
        public string[] ApiKey { get; init; } = [];

        [CommandOption("--parallel <N>")] [DefaultValue(8)] [Description("KV-cache slots per model: sequences generated at once.")]
        public int Parallel { get; init; }

        [CommandOption("--ctx-size <N>")] [DefaultValue(0)] [Description("Tokens per slot; 0 = the model's trained context.")]
        public int CtxSize { get; init; }

        [CommandOption("--queue <N>")] [DefaultValue(32)] [Description("Requests that may wait for a slot before 429.")]
        public int Queue { get; init; }

        [CommandOption("--timeout <SECONDS>")] [DefaultValue(300)] [Description("Per-request time limit, queue wait included.")]
        public int Timeout { get; init; }

        [CommandOption("--max-body <BYTES>")] [DefaultValue(1048576L)] [Description("Largest request body (413 beyond).")]
        public long MaxBody { get; init; }

        public override ValidationResult Validate()
        {
            if (Port is < 0 or > 65535) return ValidationResult.Error("--port must be in 0..65535");
            if (Parallel < 1) return ValidationResult.Error("--parallel must be at least 1");
            if (CtxSize < 0) return ValidationResult.Error("--ctx-size must be >= 0");
            if (Queue < 0) return ValidationResult.Error("--queue must be >= 0");
            if (Timeout < 1) return ValidationResult.Error("--timeout must be at least 1 second");
            if (MaxBody < 1024) return ValidationResult.Error("--max-body must be at least 1024 bytes");
            if (ApiKey.Any(string.IsNullOrWhiteSpace)) return ValidationResult.Error("--api-key must not be empty");
            return ValidationResult.Success();
        }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        var options = new ServerOptions
        {
            Models = s.Model.Length > 0 ? s.Model : [ModelPaths.Resolve(null)],
            Host = s.Host, Port = s.Port, ApiKeys = s.ApiKey, Parallel = s.Parallel, ContextSize = s.CtxSize, QueueCapacity = s.Queue,
            RequestTimeLimit = TimeSpan.FromSeconds(s.Timeout), MaxBodyBytes = s.MaxBody,
            Log = line => AnsiConsole.WriteLine(line),
        };
        await using var server = await LoomServer.StartAsync(options);
        // Ctrl+C and SIGTERM stop the host (its console lifetime); then the engines are disposed.
        try { await server.WaitForShutdownAsync(cancellationToken); }
        catch (OperationCanceledException) { }
        AnsiConsole.WriteLine("stopping");
        return 0;
    }
}
