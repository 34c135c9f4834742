using System.ComponentModel;
using Loom.Tensors;
using Loom.Text;
using Loom.Training.Lm;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Loom.Cli.Commands;

/// <summary>`loom train lm`: pre-trains a Llama-style language model on the user's text with checkpoints and resume.</summary>
public sealed class TrainLmCommand : Command<TrainLmCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--config <FILE>")] [Description("JSON with a \"model\" (Hugging Face Llama config) and a \"training\" object.")]
        public string Config { get; init; } = "";

        [CommandOption("--data <PATH>")] [Description("Text files or folders (.txt, .txt.gz, .md). Repeatable.")]
        public string[] Data { get; init; } = [];

        [CommandOption("--val <PATH>")] [Description("Validation text; default: the last val_fraction of --data.")]
        public string[] Val { get; init; } = [];

        [CommandOption("--tokenizer <FILE>")] [Description("tokenizer.json to use; default: train one on the data.")]
        public string? Tokenizer { get; init; }

        [CommandOption("--out <DIR>")] [Description("Output folder: model, tokenizer, checkpoints, metrics.jsonl, loss.svg.")]
        public string Out { get; init; } = "";

        [CommandOption("--resume")] [Description("Continue from the latest checkpoint in --out.")]
        public bool Resume { get; init; }

        [CommandOption("--steps <N>")] [Description("Override training.steps.")]
        public int? Steps { get; init; }

        [CommandOption("--threads <N>")] [Description("Compute threads (default: all cores).")]
        public int? Threads { get; init; }

        public override ValidationResult Validate()
        {
            if (string.IsNullOrEmpty(Config)) return ValidationResult.Error("--config is required");
            if (Data.Length == 0) return ValidationResult.Error("--data is required");
            if (string.IsNullOrEmpty(Out)) return ValidationResult.Error("--out is required");
            if (Steps is <= 0) return ValidationResult.Error("--steps must be positive");
            if (Threads is <= 0) return ValidationResult.Error("--threads must be positive");
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        if (s.Threads is int th) ComputePool.SetThreads(th);
        var cfg = LmRunConfig.Load(s.Config);
        if (s.Steps is int steps) cfg = cfg with { Training = cfg.Training with { Steps = steps } };
        Directory.CreateDirectory(s.Out);
        File.Copy(s.Config, Path.Combine(s.Out, "train-config.json"), overwrite: true);

        string tokPath = Path.Combine(s.Out, "tokenizer.json");
        BpeTokenizer tok;
        int[] train, val;
        int fileCount;
        if (s.Data.Length == 1 && File.Exists(Path.Combine(s.Data[0], "train.tok")))
        {
            // Prepared shards from `loom data tokenize`, with their tokenizer.
            tok = TokenizerJson.Load(s.Tokenizer ?? Path.Combine(s.Data[0], "tokenizer.json"));
            train = ReadShard(Path.Combine(s.Data[0], "train.tok"));
            val = ReadShard(Path.Combine(s.Data[0], "val.tok"));
            fileCount = 2;
        }
        else
        {
            // Tokenizer: given, kept from a previous run of this folder, or trained now.
            var files = LmData.ListTextFiles(s.Data);
            fileCount = files.Count;
            var texts = files.Select(LmData.ReadText).ToList();
            if (s.Tokenizer != null) tok = TokenizerJson.Load(s.Tokenizer);
            else if (s.Resume && File.Exists(tokPath)) tok = TokenizerJson.Load(tokPath);
            else
            {
                var t0 = DateTime.UtcNow;
                tok = LmData.TrainTokenizer(texts, Math.Min(cfg.Training.TokenizerVocab, cfg.Model.VocabSize));
                AnsiConsole.MarkupLineInterpolated($"trained a {tok.VocabSize}-token BPE tokenizer on {texts.Sum(t => (long)t.Length):N0} characters in {(DateTime.UtcNow - t0).TotalSeconds:F1} s");
            }
            (train, val) = LmData.Split(tok, texts, s.Val.Length > 0 ? LmData.ReadAll(s.Val) : null, cfg.Training.ValFraction);
        }
        TokenizerJson.Save(tok, tokPath);
        AnsiConsole.MarkupLineInterpolated($"data: {train.Length:N0} training tokens, {val.Length:N0} validation tokens from {fileCount} file(s)");

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cts.Cancel(); AnsiConsole.MarkupLine("[yellow]stopping: saving a checkpoint...[/]"); };
        Console.CancelKeyPress += onCancel;
        try
        {
            var trainer = new LmTrainer(s.Out, cfg, tok, train, val);
            LmProgress? last = null;
            static string Line(LmProgress p) =>
                $"step {p.Step}/{p.Steps} loss {p.Loss:F4}{(p.ValLoss is double v ? $" val {v:F4}" : "")} lr {p.Lr:E2} {p.TokensPerSecond:N0} tok/s eta {p.Eta:hh\\:mm\\:ss}";
            if (AnsiConsole.Profile.Capabilities.Interactive)
            {
                // A live bar on a terminal; validation results stay on screen above it.
                AnsiConsole.Progress()
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                    .Start(ctx =>
                    {
                        var task = ctx.AddTask("training", maxValue: cfg.Training.Steps);
                        trainer.Run(s.Resume, p =>
                        {
                            last = p;
                            task.Value = p.Step;
                            task.Description = Markup.Escape($"loss {p.Loss:F3}  {p.TokensPerSecond:N0} tok/s");
                            if (p.ValLoss != null) AnsiConsole.MarkupLine(Markup.Escape(Line(p)));
                        }, cts.Token);
                    });
            }
            else
            {
                // Logs and pipes get one plain line every 10 steps and at each validation.
                trainer.Run(s.Resume, p =>
                {
                    last = p;
                    if (p.ValLoss != null || p.Step % 10 == 0 || p.Step == p.Steps) Console.Out.WriteLine(Line(p));
                }, cts.Token);
            }
            if (last != null && last.Step == last.Steps) AnsiConsole.MarkupLineInterpolated($"[green]done[/]: model in {s.Out} (loss curve: {Path.Combine(s.Out, "loss.svg")})");
            else AnsiConsole.MarkupLineInterpolated($"stopped at step {last?.Step ?? 0}; continue with --resume");
        }
        finally { Console.CancelKeyPress -= onCancel; }
        return 0;
    }

    private static int[] ReadShard(string path)
    {
        using var shard = Training.Data.TokenShard.Open(path);
        var ids = new int[checked((int)shard.Count)];
        shard.Read(0, ids);
        return ids;
    }
}
