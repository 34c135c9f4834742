using System.ComponentModel;
using Loom.Models.Gguf;
using Loom.Tensors.Quant;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Loom.Cli.Commands;

/// <summary>
/// `loom convert IN OUT`: a model folder (config.json + model.safetensors + tokenizer.json) to a GGUF file, or a llama
/// GGUF file back to a model folder (weights dequantized to F32, or F16 with --type F16).
/// </summary>
public sealed class ConvertCommand : Command<ConvertCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<IN>")] [Description("A model folder or a .gguf file.")]
        public string In { get; init; } = "";

        [CommandArgument(1, "<OUT>")] [Description("The .gguf file (from a folder) or the folder (from a .gguf) to write.")]
        public string Out { get; init; } = "";

        [CommandOption("--type <TYPE>")] [Description("Folder to GGUF: matrix type F32, F16 (default), BF16, Q8_0, Q4_0, ... GGUF to folder: F32 (default) or F16.")]
        public string? Type { get; init; }

        public override ValidationResult Validate()
        {
            if (Type != null && (!Enum.TryParse<GgmlType>(Type, true, out var t) || t is GgmlType.Q8_1 or GgmlType.Q8_K))
                return ValidationResult.Error($"--type '{Type}' is not a model tensor type");
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        var type = s.Type != null ? Enum.Parse<GgmlType>(s.Type, true) : (GgmlType?)null;
        if (Directory.Exists(s.In))
        {
            GgufConvert.FolderToGguf(s.In, s.Out, type ?? GgmlType.F16);
            AnsiConsole.MarkupLineInterpolated($"wrote {s.Out} (llama, {type ?? GgmlType.F16})");
        }
        else if (File.Exists(s.In))
        {
            if (type is not (null or GgmlType.F32 or GgmlType.F16)) throw new ArgumentException("a model folder holds F32 or F16 weights (--type F32 or F16)");
            GgufConvert.GgufToFolder(s.In, s.Out, type == GgmlType.F16);
            AnsiConsole.MarkupLineInterpolated($"wrote {s.Out}/ (config.json, model.safetensors, tokenizer.json)");
        }
        else throw new FileNotFoundException($"{s.In}: no such model folder or file");
        return 0;
    }
}
