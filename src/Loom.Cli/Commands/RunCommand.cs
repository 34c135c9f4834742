using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Loom.Cli.Commands;

/// <summary>`loom run`: continues a prompt with a GGUF model or a model folder, streaming the text.</summary>
public sealed class RunCommand : Command<RunCommand.Settings>
{
    public sealed class Settings : SamplingSettings
    {
        [CommandOption("-p|--prompt <TEXT>")] [Description("Text to continue (special tokens written in it are parsed).")]
        public string? Prompt { get; init; }

        public override ValidationResult Validate()
        {
            if (Prompt == null) return ValidationResult.Error("--prompt is required");
            return base.Validate();
        }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        using var model = s.Load();
        var stdout = Console.Out;
        stdout.Write(s.Prompt);
        stdout.Flush();
        var r = model.Generate(s.Prompt!, s.Sampler(), s.MaxTokens, s.Stop, piece => { stdout.Write(piece); stdout.Flush(); }, cancellationToken);
        stdout.WriteLine();
        s.PrintStats(r);
        return 0;
    }
}
