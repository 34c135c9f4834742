using System.ComponentModel;
using Loom.Bench;
using Loom.Text;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Loom.Cli.Commands;

/// <summary>`loom tokenizer bench`: single-core encode throughput of a tokenizer, and optionally training time, on a text file.</summary>
public sealed class TokenizerBenchCommand : Command<TokenizerBenchCommand.Settings>
{
    /// <summary>Options of `loom tokenizer bench`.</summary>
    public sealed class Settings : CommandSettings
    {
        [CommandOption("-i|--input <FILE>")]
        [Description("Text to encode (and train on).")]
        public string? Input { get; init; }

        [CommandOption("-t|--tokenizer <PATH>")]
        [Description("tokenizer.json to measure; several allowed.")]
        public string[] Tokenizer { get; init; } = [];

        [CommandOption("--train <N>")]
        [Description("Also train a vocabulary of N ids on the input and measure it.")]
        public int Train { get; init; }

        [CommandOption("--pretokenizer <KIND>")]
        [Description("gpt2 or llama3, for --train.")]
        [DefaultValue("llama3")]
        public string PreTokenizer { get; init; } = "llama3";

        public override ValidationResult Validate()
        {
            if (string.IsNullOrEmpty(Input)) return ValidationResult.Error("--input FILE is required");
            if (Tokenizer.Length == 0 && Train <= 0) return ValidationResult.Error("give --tokenizer PATH and/or --train N");
            if (TokenizerTrainCommand.ParseKind(PreTokenizer) == null) return ValidationResult.Error($"--pretokenizer must be gpt2 or llama3, not '{PreTokenizer}'");
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken ct)
    {
        if (!File.Exists(settings.Input)) throw new FileNotFoundException($"input file '{settings.Input}' does not exist");
        var text = File.ReadAllBytes(settings.Input!);
        var table = new Table().AddColumns("tokenizer", "vocab", "bytes/token", "cold MB/s", "warm MB/s");
        var runs = settings.Tokenizer.Select(p => (Name: Path.GetFileName(p), Tok: TokenizerJson.Load(p))).ToList();
        if (settings.Train > 0)
        {
            var r = TokenizerBenchmark.Train(text, settings.Train, TokenizerTrainCommand.ParseKind(settings.PreTokenizer)!.Value);
            AnsiConsole.MarkupLineInterpolated(
                $"trained {r.Tokenizer.VocabSize} ids on {text.Length / 1e6:F1} MB: counting {r.CountSeconds:F2} s ({r.DistinctWords} distinct words), merging {r.MergeSeconds:F2} s, total {r.CountSeconds + r.MergeSeconds:F2} s");
            runs.Add(($"trained-{settings.Train}", r.Tokenizer));
        }
        foreach (var (name, tok) in runs)
        {
            var e = TokenizerBenchmark.Encode(tok, text);
            table.AddRow(name, tok.VocabSize.ToString(), $"{e.BytesPerToken:F2}", $"{e.ColdMBps:F1}", $"{e.WarmMBps:F1}");
        }
        AnsiConsole.Write(table);
        return 0;
    }
}
