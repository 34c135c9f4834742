using System.ComponentModel;
using Loom.Models.Generation;
using Loom.Models.Llama;
using Loom.Tensors;
using Loom.Text.Sampling;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Loom.Cli.Commands;

/// <summary>`loom generate`: continues a prompt with a trained model, streaming the text.</summary>
public sealed class GenerateCommand : Command<GenerateCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--model <DIR>")] [Description("Model folder (config.json, model.safetensors, tokenizer.json); default: the bundled model.")]
        public string? Model { get; init; }

        [CommandOption("-p|--prompt <TEXT>")] [Description("Text to continue.")]
        public string? Prompt { get; init; }

        [CommandOption("-n|--max-tokens <N>")] [DefaultValue(200)] public int MaxTokens { get; init; }
        [CommandOption("--temperature <T>")] [DefaultValue(0.8f)] [Description("0 = greedy.")] public float Temperature { get; init; }
        [CommandOption("--top-k <K>")] [DefaultValue(40)] public int TopK { get; init; }
        [CommandOption("--top-p <P>")] [DefaultValue(0.95f)] public float TopP { get; init; }
        [CommandOption("--min-p <P>")] [DefaultValue(0.05f)] public float MinP { get; init; }
        [CommandOption("--repeat-penalty <R>")] [DefaultValue(1.1f)] public float RepeatPenalty { get; init; }
        [CommandOption("--seed <N>")] [DefaultValue(42UL)] public ulong Seed { get; init; }
        [CommandOption("--stop <TEXT>")] [Description("Stop when this text appears (repeatable).")] public string[] Stop { get; init; } = [];
        [CommandOption("--threads <N>")] public int? Threads { get; init; }
        [CommandOption("--stats")] [Description("Print speed figures at the end.")] public bool Stats { get; init; }

        public override ValidationResult Validate()
        {
            if (Prompt == null) return ValidationResult.Error("--prompt is required");
            if (MaxTokens < 0) return ValidationResult.Error("--max-tokens must be >= 0");
            if (Threads is <= 0) return ValidationResult.Error("--threads must be positive");
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        if (s.Threads is int th) ComputePool.SetThreads(th);
        var (model, tok) = ModelFolder.Load(ModelPaths.Resolve(s.Model));
        var options = new SamplerOptions
        {
            Temperature = s.Temperature, TopK = s.TopK, TopP = s.TopP, MinP = s.MinP, RepetitionPenalty = s.RepeatPenalty, Seed = s.Seed,
        };
        var gen = new Generator(model, tok);
        var stdout = Console.Out;
        stdout.Write(s.Prompt);
        var r = gen.Generate(s.Prompt!, options, s.MaxTokens, s.Stop, piece => { stdout.Write(piece); stdout.Flush(); }, cancellationToken);
        stdout.WriteLine();
        if (s.Stats)
        {
            AnsiConsole.MarkupLineInterpolated($"[grey]prompt {r.PromptTokens} tokens in {r.PromptSeconds * 1000:F0} ms; generated {r.Tokens.Length} tokens at {r.Tokens.Length / Math.Max(r.GenerateSeconds, 1e-9):F1} tokens/s; finish: {r.Finish}[/]");
        }
        return 0;
    }
}
