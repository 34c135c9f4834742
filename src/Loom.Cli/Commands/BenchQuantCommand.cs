using System.ComponentModel;
using System.Text.Json;
using Loom.Bench;
using Loom.Tensors.Quant;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Loom.Cli.Commands;

/// <summary>`loom bench quant`: GB/s and GFLOP/s of quantized matmuls per ggml type, decode (T=1) and prefill shapes, with ggml alongside when its peer program is built.</summary>
public sealed class BenchQuantCommand : Command<BenchQuantCommand.Settings>
{
    /// <summary>Options of `loom bench quant`.</summary>
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--type <LIST>")]
        [Description("Comma-separated weight types (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, F16, BF16, F32).")]
        [DefaultValue("Q8_0,Q4_0,Q4_1,Q5_0,Q5_1,Q2_K,Q3_K,Q4_K,Q5_K,Q6_K,F16,BF16,F32")]
        public string Types { get; set; } = "Q8_0,Q4_0,Q4_1,Q5_0,Q5_1,Q2_K,Q3_K,Q4_K,Q5_K,Q6_K,F16,BF16,F32";

        [CommandOption("--rows <N>")]
        [Description("Output features N (rows of W).")]
        [DefaultValue(2048)]
        public int Rows { get; set; } = 2048;

        [CommandOption("--cols <K>")]
        [Description("Input features K (a multiple of 256 suits every type).")]
        [DefaultValue(8192)]
        public int Cols { get; set; } = 8192;

        [CommandOption("--tokens <LIST>")]
        [Description("Comma-separated token counts T (1 = decode GEMV).")]
        [DefaultValue("1,128")]
        public string Tokens { get; set; } = "1,128";

        [CommandOption("--threads <LIST>")]
        [Description("Comma-separated thread counts.")]
        [DefaultValue("1,2")]
        public string Threads { get; set; } = "1,2";

        [CommandOption("--quick")]
        [Description("Fewer repetitions.")]
        public bool Quick { get; set; }

        [CommandOption("--json")]
        [Description("Print only {\"results\":[[...]]} on stdout.")]
        public bool Json { get; set; }

        internal static int[] PositiveList(string s, string what) => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(t => int.TryParse(t, out int n) && n > 0 ? n : throw new FormatException($"bad {what} '{t}'")).ToArray();

        internal GgmlType[] TypeList => Types.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(QuantizeCommand.ParseType).ToArray();

        public override ValidationResult Validate()
        {
            try
            {
                if (PositiveList(Threads, "thread count").Length == 0) return ValidationResult.Error("--threads needs at least one count");
                if (PositiveList(Tokens, "token count").Length == 0) return ValidationResult.Error("--tokens needs at least one count");
                var types = TypeList;
                if (types.Length == 0) return ValidationResult.Error("--type needs at least one type");
                if (Rows <= 0) return ValidationResult.Error("--rows must be positive");
                foreach (var t in types)
                    if (Cols <= 0 || Cols % GgmlTypeLayout.BlockElements(t) != 0)
                        return ValidationResult.Error($"--cols {Cols} is not a positive multiple of the {t} block size {GgmlTypeLayout.BlockElements(t)}");
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
        var err = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        var results = QuantBenchmark.Run(settings.TypeList, settings.Rows, settings.Cols, Settings.PositiveList(settings.Tokens, "token count"),
            Settings.PositiveList(settings.Threads, "thread count"), settings.Quick, line => err.MarkupLineInterpolated($"[grey]{line}[/]"));
        if (settings.Json)
        {
            using var stdout = Console.OpenStandardOutput();
            using var w = new Utf8JsonWriter(stdout);
            w.WriteStartObject();
            w.WriteStartArray("results");
            foreach (var r in results)
            {
                w.WriteStartObject();
                w.WriteString("type", r.Type.ToString());
                w.WriteNumber("rows", r.Rows);
                w.WriteNumber("cols", r.Cols);
                w.WriteNumber("tokens", r.Tokens);
                w.WriteNumber("threads", r.Threads);
                w.WriteNumber("ms", Math.Round(r.Milliseconds, 4));
                w.WriteNumber("gbytes_per_s", Math.Round(r.GBytesPerSecond, 2));
                w.WriteNumber("gflops", Math.Round(r.Gflops, 2));
                if (r.GgmlMilliseconds is { } g) w.WriteNumber("ggml_ms", Math.Round(g, 4));
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
            return 0;
        }
        var table = new Table().AddColumns("type", "shape", "T", "threads", "ms", "GB/s", "GFLOP/s", "ggml ms", "Loom/ggml speed");
        foreach (var r in results)
            table.AddRow(r.Type.ToString(), $"{r.Rows}x{r.Cols}", r.Tokens.ToString(), r.Threads.ToString(), r.Milliseconds.ToString("F3"),
                r.GBytesPerSecond.ToString("F1"), r.Gflops.ToString("F1"), r.GgmlMilliseconds?.ToString("F3") ?? "-", r.Ratio?.ToString("F2") ?? "-");
        if (results.All(r => r.GgmlMilliseconds is null))
            AnsiConsole.MarkupLine("[grey]ggml peer not built: run tools/llamacpp/build_quant_bench.sh to compare with llama.cpp in the same run.[/]");
        AnsiConsole.Write(table);
        return 0;
    }
}
