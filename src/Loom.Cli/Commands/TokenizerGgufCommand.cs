using System.ComponentModel;
using Loom.Models.Gguf;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Loom.Cli.Commands;

/// <summary>`loom tokenizer gguf`: converts a Hugging Face tokenizer (tokenizer.json + tokenizer_config.json) to a vocab-only GGUF, as convert_hf_to_gguf.py would.</summary>
public sealed class TokenizerGgufCommand : Command<TokenizerGgufCommand.Settings>
{
    /// <summary>Options of `loom tokenizer gguf`.</summary>
    public sealed class Settings : CommandSettings
    {
        [CommandOption("-t|--tokenizer <PATH>")]
        [Description("A folder with tokenizer.json (or .json.gz) and optionally tokenizer_config.json, or a tokenizer.json file.")]
        public string Tokenizer { get; init; } = "";

        [CommandOption("--config <PATH>")]
        [Description("tokenizer_config.json (default: next to tokenizer.json).")]
        public string? Config { get; init; }

        [CommandOption("--pre <NAME>")]
        [Description("tokenizer.ggml.pre name to write instead of the one detected from the pre-tokenizer.")]
        public string? Pre { get; init; }

        [CommandOption("-o|--out <FILE>")]
        [Description("The GGUF file to write.")]
        public string Out { get; init; } = "";

        public override ValidationResult Validate()
        {
            if (Tokenizer == "") return ValidationResult.Error("--tokenizer is required");
            if (Out == "") return ValidationResult.Error("--out is required");
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        string json = settings.Tokenizer, dir;
        if (Directory.Exists(json))
        {
            dir = json;
            json = Path.Combine(dir, "tokenizer.json");
            if (!File.Exists(json)) json += ".gz";
        }
        else dir = Path.GetDirectoryName(Path.GetFullPath(json))!;
        string? config = settings.Config ?? (File.Exists(Path.Combine(dir, "tokenizer_config.json")) ? Path.Combine(dir, "tokenizer_config.json") : null);
        var vocab = GgufTokenizer.FromTokenizerJson(json, config, settings.Pre);
        GgufTokenizer.WriteVocabOnly(settings.Out, vocab, Path.GetFileName(Path.GetFullPath(dir)));
        AnsiConsole.MarkupLineInterpolated($"wrote {settings.Out}: model {vocab.Model}, pre {vocab.Pre ?? "(none)"}, {vocab.Count} tokens, {vocab.Merges.Length} merges");
        return 0;
    }
}
