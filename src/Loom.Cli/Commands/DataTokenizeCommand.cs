using System.ComponentModel;
using Loom.Text;
using Loom.Training.Data;
using Loom.Training.Lm;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Loom.Cli.Commands;

/// <summary>`loom data tokenize`: encodes text into memory-mapped token shards (train.tok, val.tok) for `loom train lm`.</summary>
public sealed class DataTokenizeCommand : Command<DataTokenizeCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--input <PATH>")] [Description("Text files or folders. Repeatable.")] public string[] Input { get; init; } = [];
        [CommandOption("--val <PATH>")] [Description("Validation text; default: the last --val-fraction of the input.")] public string[] Val { get; init; } = [];
        [CommandOption("--tokenizer <FILE>")] [Description("tokenizer.json; default: train one (--vocab-size).")] public string? Tokenizer { get; init; }
        [CommandOption("--vocab-size <N>")] [DefaultValue(4096)] public int VocabSize { get; init; }
        [CommandOption("--val-fraction <F>")] [DefaultValue(0.01)] public double ValFraction { get; init; }
        [CommandOption("--out <DIR>")] public string Out { get; init; } = "";

        public override ValidationResult Validate() =>
            Input.Length == 0 ? ValidationResult.Error("--input is required") :
            string.IsNullOrEmpty(Out) ? ValidationResult.Error("--out is required") :
            ValFraction is <= 0 or >= 0.5 ? ValidationResult.Error("--val-fraction must be in (0, 0.5)") :
            VocabSize < 260 ? ValidationResult.Error("--vocab-size must be at least 260") : ValidationResult.Success();
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        var texts = LmData.ReadAll(s.Input);
        var tok = s.Tokenizer != null ? TokenizerJson.Load(s.Tokenizer) : LmData.TrainTokenizer(texts, s.VocabSize);
        Directory.CreateDirectory(s.Out);
        TokenizerJson.Save(tok, Path.Combine(s.Out, "tokenizer.json"));
        var (train, val) = LmData.Split(tok, texts, s.Val.Length > 0 ? LmData.ReadAll(s.Val) : null, s.ValFraction);
        TokenShard.Write(Path.Combine(s.Out, "train.tok"), train, tok.VocabSize);
        TokenShard.Write(Path.Combine(s.Out, "val.tok"), val, tok.VocabSize);
        AnsiConsole.MarkupLineInterpolated($"wrote {train.Length:N0} training and {val.Length:N0} validation tokens ({tok.VocabSize}-token vocabulary) to {s.Out}");
        return 0;
    }
}
