using System.ComponentModel;
using System.Text.Json;
using Loom.Models.Llama;
using Loom.Tensors;
using Loom.Training.Lm;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Loom.Cli.Commands;

/// <summary>`loom eval`: loss, perplexity and bits per byte of a model on a text file.</summary>
public sealed class EvalCommand : Command<EvalCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--model <DIR>")] [Description("Model folder; default: the bundled model.")] public string? Model { get; init; }
        [CommandOption("--data <FILE>")] [Description("Text file (.txt or .txt.gz) to score.")] public string Data { get; init; } = "";
        [CommandOption("--context <N>")] [Description("Window length (default: the model's context).")] public int Context { get; init; }
        [CommandOption("--json")] [Description("Print {\"tokens\",\"bytes\",\"loss\",\"perplexity\",\"bits_per_byte\"} only.")] public bool Json { get; init; }
        [CommandOption("--threads <N>")] public int? Threads { get; init; }

        public override ValidationResult Validate() =>
            string.IsNullOrEmpty(Data) ? ValidationResult.Error("--data is required") :
            Context < 0 ? ValidationResult.Error("--context must be >= 0") :
            Threads is <= 0 ? ValidationResult.Error("--threads must be positive") : ValidationResult.Success();
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        if (s.Threads is int th) ComputePool.SetThreads(th);
        var (model, tok) = ModelFolder.Load(ModelPaths.Resolve(s.Model));
        var text = LmData.ReadText(s.Data);
        var r = LmEvaluator.Evaluate(model, tok, text, s.Context);
        if (s.Json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new { tokens = r.Tokens, bytes = r.Bytes, loss = r.Loss, perplexity = r.Perplexity, bits_per_byte = r.BitsPerByte }));
            return 0;
        }
        var t = new Table().AddColumns("tokens", "bytes", "loss (nats/token)", "perplexity", "bits per byte");
        t.AddRow($"{r.Tokens:N0}", $"{r.Bytes:N0}", $"{r.Loss:F4}", $"{r.Perplexity:F2}", $"{r.BitsPerByte:F4}");
        AnsiConsole.Write(t);
        return 0;
    }
}
