using System.ComponentModel;
using System.Text.Json;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Loom.Cli.Commands;

/// <summary>`loom logits`: the token ids of a prompt and the model's logits, as JSON (for comparing with llama.cpp).</summary>
public sealed class LogitsCommand : Command<LogitsCommand.Settings>
{
    public sealed class Settings : ModelSettings
    {
        [CommandOption("-p|--prompt <TEXT>")] [Description("The prompt (BOS added when the model says add_bos; special tokens parsed).")]
        public string? Prompt { get; init; }

        [CommandOption("--json")] [Description("Print {\"tokens\":[[...]],\"logits\":[[...]]} (the only output format).")]
        public bool Json { get; init; }

        [CommandOption("--all-positions")] [Description("\"logits\" holds one row per position instead of the last position's row.")]
        public bool AllPositions { get; init; }

        public override ValidationResult Validate()
        {
            if (Prompt == null) return ValidationResult.Error("--prompt is required");
            if (!Json) return ValidationResult.Error("--json is required (the output is JSON)");
            return base.Validate();
        }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        using var model = s.Load();
        var tokens = model.Tokenizer.Encode(s.Prompt!, addSpecial: true, parseSpecial: true);
        if (tokens.Length == 0) throw new ArgumentException("the prompt encodes to no tokens");
        var logits = model.Logits(tokens, s.AllPositions);
        int v = model.VocabSize;
        using var stdout = Console.OpenStandardOutput();
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteStartArray("tokens");
            foreach (int t in tokens) w.WriteNumberValue(t);
            w.WriteEndArray();
            w.WriteStartArray("logits");
            if (s.AllPositions)
            {
                for (int p = 0; p < tokens.Length; p++)
                {
                    w.WriteStartArray();
                    for (int i = 0; i < v; i++) w.WriteNumberValue(logits[p * v + i]);
                    w.WriteEndArray();
                }
            }
            else foreach (float x in logits) w.WriteNumberValue(x);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        Console.Out.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
        return 0;
    }
}
