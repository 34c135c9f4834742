using System.ComponentModel;
using System.Text.Json;
using Loom.Bench;
using Loom.Tensors.Kernels;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Loom.Cli.Commands;

/// <summary>`loom bench gemm`: Loom's SGEMM against OpenBLAS, same process, same run, median GFLOP/s.</summary>
public sealed class BenchGemmCommand : Command<BenchGemmCommand.Settings>
{
    /// <summary>Options of `loom bench gemm`.</summary>
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--threads <LIST>")]
        [Description("Comma-separated thread counts to measure (each library gets the same count).")]
        [DefaultValue("1,2")]
        public string Threads { get; set; } = "1,2";

        [CommandOption("--sizes <LIST>")]
        [Description("Comma-separated shapes to run instead of the default set: N for a square, or MxKxN.")]
        public string? Sizes { get; set; }

        [CommandOption("--quick")]
        [Description("Short run: fewer repetitions, and no 4096 square unless --sizes asks for it.")]
        public bool Quick { get; set; }

        [CommandOption("--json")]
        [Description("Print only {\"results\":[[...]]} on stdout.")]
        public bool Json { get; set; }

        internal int[] ThreadList => Threads.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(t => int.TryParse(t, out int n) && n > 0 ? n : throw new FormatException($"bad thread count '{t}'")).ToArray();

        internal GemmShape[] ShapeList => Sizes is null
            ? GemmBenchmark.DefaultShapes.Where(s => !Quick || s.M * (long)s.K * s.N < 4096L * 4096 * 4096).ToArray()
            : Sizes.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(GemmShape.Parse).ToArray();

        public override ValidationResult Validate()
        {
            try
            {
                if (ThreadList.Length == 0) return ValidationResult.Error("--threads needs at least one count");
                if (ShapeList.Length == 0) return ValidationResult.Error("--sizes needs at least one shape");
            }
            catch (FormatException e)
            {
                return ValidationResult.Error(e.Message);
            }
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var peer = OpenBlas.Instance;
        var err = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        if (!settings.Json)
        {
            AnsiConsole.MarkupLineInterpolated($"Loom kernel: [bold]{Gemm.KernelDescription}[/]; peer: [bold]{(peer is null ? "none (OpenBLAS not found)" : $"OpenBLAS ({peer.CoreName})")}[/]");
        }
        // Progress goes to stderr so that --json leaves stdout to the JSON document alone.
        var results = GemmBenchmark.Run(settings.ShapeList, settings.ThreadList, settings.Quick,
            line => err.MarkupLineInterpolated($"[grey]{line}[/]"));

        if (settings.Json)
        {
            using var stdout = Console.OpenStandardOutput();
            using (var w = new Utf8JsonWriter(stdout))
            {
                w.WriteStartObject();
                w.WriteStartArray("results");
                foreach (var r in results)
                {
                    w.WriteStartObject();
                    w.WriteNumber("m", r.Shape.M);
                    w.WriteNumber("k", r.Shape.K);
                    w.WriteNumber("n", r.Shape.N);
                    w.WriteNumber("threads", r.Threads);
                    w.WriteNumber("loom_gflops", Math.Round(r.LoomGflops, 2));
                    if (r.OpenBlasGflops is { } o) w.WriteNumber("openblas_gflops", Math.Round(o, 2));
                    else w.WriteNull("openblas_gflops");
                    if (r.Ratio is { } q) w.WriteNumber("ratio", Math.Round(q, 3));
                    else w.WriteNull("ratio");
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            stdout.WriteByte((byte)'\n');
            return 0;
        }

        var table = new Table().Title("SGEMM, median GFLOP/s").AddColumns("M x K x N", "threads", "Loom", "OpenBLAS", "ratio");
        foreach (var r in results)
        {
            table.AddRow($"{r.Shape.M} x {r.Shape.K} x {r.Shape.N}", r.Threads.ToString(), r.LoomGflops.ToString("F1"),
                r.OpenBlasGflops?.ToString("F1") ?? "-", r.Ratio?.ToString("F2") ?? "-");
        }
        AnsiConsole.Write(table);
        return 0;
    }
}
