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
        config.AddBranch("bench", b =>
        {
            b.SetDescription("Benchmarks that compare Loom with a peer in the same run.");
            b.AddCommand<BenchGemmCommand>("gemm").WithDescription("SGEMM GFLOP/s of Loom and OpenBLAS on square and model-like shapes, 1 and 2 threads.");
        });
        config.SetExceptionHandler((ex, _) =>
        {
            var e = ex is AggregateException { InnerException: { } inner } ? inner : ex;
            AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
            return e is CommandParseException or CommandRuntimeException ? 2 : 1;
        });
    }
}
