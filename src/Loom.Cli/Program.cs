using Loom.Cli.Commands;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Loom.Cli;

/// <summary>Entry point of the `loom` command: one verb per job, errors as one clear line.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var app = new CommandApp();
        app.Configure(Configure);
        return app.Run(args);
    }

    public static void Configure(IConfigurator config)
    {
        config.SetApplicationName("loom");
        config.AddCommand<EnvCommand>("env").WithDescription("Show the engine's view of this machine: SIMD, threads, memory.");
        config.AddBranch("tokenizer", t =>
        {
            t.SetDescription("Train and inspect tokenizers.");
            t.AddCommand<TokenizerTrainCommand>("train").WithDescription("Train a byte-level BPE tokenizer on text files; writes tokenizer.json.");
            t.AddCommand<TokenizerEncodeCommand>("encode").WithDescription("Encode text or a file with a tokenizer.json and print the ids.");
            t.AddCommand<TokenizerBenchCommand>("bench").WithDescription("Measure encode MB/s (and optionally training time) on a text file.");
        });
        config.SetExceptionHandler((ex, _) =>
        {
            var e = ex is AggregateException { InnerException: { } inner } ? inner : ex;
            AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
            return e is CommandParseException or CommandRuntimeException ? 2 : 1;
        });
    }
}
