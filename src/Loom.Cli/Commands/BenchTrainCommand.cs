using System.ComponentModel;
using System.Text.Json;
using Loom.Bench;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Loom.Cli.Commands;

/// <summary>`loom bench train`: training tokens/s of Loom and PyTorch on the same character-level model and data.</summary>
public sealed class BenchTrainCommand : Command<BenchTrainCommand.Settings>
{
    /// <summary>Options of `loom bench train`.</summary>
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--preset <NAME>")]
        [Description("nanogpt-cpu (4 layers, 4 heads, dim 128, context 64, batch 12) or nanogpt-small (6, 6, 384, 256, 16).")]
        [DefaultValue("nanogpt-cpu")]
        public string Preset { get; set; } = "nanogpt-cpu";

        [CommandOption("--steps <N>")]
        [Description("Timed training steps (default: the preset's; with --eval, set the training length, e.g. 2000).")]
        public int? Steps { get; set; }

        [CommandOption("--warmup <N>")]
        [Description("Untimed steps before the timed ones (default: the preset's; 0 with --eval).")]
        public int? Warmup { get; set; }

        [CommandOption("--threads <N>")]
        [Description("Loom compute threads (default: all cores).")]
        public int? Threads { get; set; }

        [CommandOption("--torch-threads <LIST>")]
        [Description("PyTorch thread counts to try, one process each; the fastest is reported (default: 1,2 capped at the core count).")]
        public string? TorchThreads { get; set; }

        [CommandOption("--data <PATH>")]
        [Description("Corpus (default: data/corpus/moby-dick.txt.gz found above the current or program directory).")]
        public string? Data { get; set; }

        [CommandOption("--eval")]
        [Description("Quality run: warm-up + cosine lr over all steps, then the validation loss (nats/char) on the last 10%.")]
        public bool Eval { get; set; }

        [CommandOption("--profile")]
        [Description("Also time data, forward, backward, clipping and optimizer separately (Loom).")]
        public bool Profile { get; set; }

        [CommandOption("--no-torch")]
        [Description("Skip the PyTorch baseline.")]
        public bool NoTorch { get; set; }

        [CommandOption("--json")]
        [Description("Print only {\"preset\",\"threads\",\"loom_tokens_per_s\",\"torch_tokens_per_s\",\"ratio\"} (plus the val losses with --eval).")]
        public bool Json { get; set; }

        internal int[] TorchThreadList(int loomThreads) => TorchThreads is null
            ? Enumerable.Range(1, Math.Min(2, Environment.ProcessorCount)).ToArray()
            : TorchThreads.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(t => int.TryParse(t, out int n) && n > 0 ? n : throw new FormatException($"bad thread count '{t}'")).ToArray();

        public override ValidationResult Validate()
        {
            if (TrainPreset.Find(Preset) is null)
                return ValidationResult.Error($"unknown preset '{Preset}'; known: {string.Join(", ", TrainPreset.All.Select(p => p.Name))}");
            if (Steps is < 1) return ValidationResult.Error("--steps must be at least 1");
            if (Warmup is < 0) return ValidationResult.Error("--warmup must be >= 0");
            if (Threads is < 1) return ValidationResult.Error("--threads must be at least 1");
            try
            {
                if (TorchThreadList(1).Length == 0) return ValidationResult.Error("--torch-threads needs at least one count");
            }
            catch (FormatException e) { return ValidationResult.Error(e.Message); }
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var preset = TrainPreset.Find(settings.Preset)!;
        var dataPath = CharCorpus.Locate(settings.Data)
                       ?? throw new FileNotFoundException($"{CharCorpus.DefaultRelativePath} not found above {Environment.CurrentDirectory}; pass --data");
        var corpus = CharCorpus.Load(dataPath);
        int threads = settings.Threads ?? Loom.Tensors.ComputePool.Threads;
        var options = new TrainBenchOptions(preset, settings.Warmup ?? (settings.Eval ? 0 : preset.DefaultWarmup),
            settings.Steps ?? preset.DefaultSteps, threads)
        {
            Schedule = settings.Eval, Eval = settings.Eval, Profile = settings.Profile,
        };
        // Progress goes to stderr so that --json leaves stdout to the JSON document alone.
        var err = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        void Progress(string line) => err.MarkupLineInterpolated($"[grey]{line}[/]");
        Progress($"{preset.Name}: {preset.Layers} layers, {preset.Heads} heads, dim {preset.Dim}, ffn {preset.FfnDim}, context {preset.Context}, " +
                 $"batch {preset.Batch}, vocab {corpus.Vocab.Length}; {options.Warmup} + {options.Steps} steps");

        var loom = TrainBenchmark.Run(options, corpus, Progress, cancellationToken);

        TorchTrainResult? torch = null;
        var torchRuns = new List<TorchTrainResult>();
        string? torchNote = null;
        if (settings.NoTorch) torchNote = "skipped (--no-torch)";
        else if (!TorchTrainBaseline.Available) torchNote = $"not run ({TorchTrainBaseline.Python} not found)";
        else
        {
            try
            {
                foreach (int t in settings.TorchThreadList(threads))
                {
                    var r = TorchTrainBaseline.Run(options, dataPath, t, cancellationToken);
                    Progress($"torch threads={t}: {r.TokensPerSecond:F0} tok/s (median), loss {r.FirstLoss:F4} -> {r.LastLoss:F4}");
                    torchRuns.Add(r);
                }
                torch = torchRuns.MaxBy(r => r.TokensPerSecond);
            }
            catch (InvalidOperationException e)
            {
                torchNote = e.Message;
                err.MarkupLineInterpolated($"[yellow]warning:[/] {e.Message}");
            }
        }
        double? ratio = torch is { TokensPerSecond: > 0 } ? loom.TokensPerSecond / torch.TokensPerSecond : null;

        if (settings.Json)
        {
            using var buffer = new MemoryStream();
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                w.WriteString("preset", preset.Name);
                w.WriteNumber("threads", threads);
                w.WriteNumber("loom_tokens_per_s", Math.Round(loom.TokensPerSecond, 1));
                if (torch is null) w.WriteNull("torch_tokens_per_s");
                else w.WriteNumber("torch_tokens_per_s", Math.Round(torch.TokensPerSecond, 1));
                if (ratio is { } q) w.WriteNumber("ratio", Math.Round(q, 3));
                else w.WriteNull("ratio");
                if (settings.Eval)
                {
                    w.WriteNumber("loom_val_loss", Math.Round(loom.ValLoss!.Value, 4));
                    if (torch?.ValLoss is { } tv) w.WriteNumber("torch_val_loss", Math.Round(tv, 4));
                    else w.WriteNull("torch_val_loss");
                }
                w.WriteEndObject();
            }
            Console.Out.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
            return 0;
        }

        var table = new Table().Title($"Training throughput, {preset.Name}, median tokens/s over {options.Steps} timed steps")
            .AddColumns("engine", "threads", "tokens/s", "mean tokens/s", "loss first -> last", "val loss");
        table.AddRow("Loom", threads.ToString(), loom.TokensPerSecond.ToString("F0"), loom.MeanTokensPerSecond.ToString("F0"),
            $"{loom.FirstLoss:F4} -> {loom.LastLoss:F4}", loom.ValLoss?.ToString("F4") ?? "-");
        foreach (var r in torchRuns)
            table.AddRow($"PyTorch {r.TorchVersion}{(ReferenceEquals(r, torch) ? " (best)" : "")}", r.Threads.ToString(), r.TokensPerSecond.ToString("F0"),
                r.MeanTokensPerSecond?.ToString("F0") ?? "-", $"{r.FirstLoss:F4} -> {r.LastLoss:F4}", r.ValLoss?.ToString("F4") ?? "-");
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLineInterpolated($"parameters: {loom.Parameters:N0}; vocab {loom.Vocab} characters");
        if (ratio is { } ratioValue)
            AnsiConsole.MarkupLineInterpolated($"Loom / PyTorch: [bold]{ratioValue:F2}x[/] (PyTorch best at {torch!.Threads} thread(s))");
        else
            AnsiConsole.MarkupLineInterpolated($"PyTorch: {torchNote ?? "-"}");
        if (loom.ValLoss is { } v)
            AnsiConsole.MarkupLineInterpolated($"validation loss (last 10%): [bold]{v:F4}[/] nats/char = {v / Math.Log(2):F3} bits/char");
        if (loom.Profile is { } pr)
        {
            var pt = new Table().Title("Step phases, median ms per timed step").AddColumns("engine", "data", "forward", "backward", "clip", "optimizer", "sum");
            void Row(string engine, TrainPhaseProfile x)
            {
                string Cell(double ms) => $"{ms:F1} ({100 * ms / x.TotalMs:F0}%)";
                pt.AddRow(engine, Cell(x.DataMs), Cell(x.ForwardMs), Cell(x.BackwardMs), Cell(x.ClipMs), Cell(x.OptimizerMs), $"{x.TotalMs:F1}");
            }
            Row($"Loom ({threads})", pr);
            foreach (var r in torchRuns)
                if (r.Phases is { } tp) Row($"PyTorch ({r.Threads})", tp);
            AnsiConsole.Write(pt);
        }
        if (loom.Ops is { Count: > 0 } ops)
        {
            var ot = new Table().Title("Loom ops per step (forward = time since the previous op), ms").AddColumns("op", "count", "forward", "backward", "total");
            foreach (var op in ops.Take(15))
                ot.AddRow(op.Op, op.Count.ToString(), op.ForwardMs.ToString("F2"), op.BackwardMs.ToString("F2"), op.TotalMs.ToString("F2"));
            AnsiConsole.Write(ot);
        }
        if (torch?.Ops is { Count: > 0 } tops)
        {
            var tt = new Table().Title($"PyTorch ops per step ({torch.Threads} thread(s), autograd profiler, self time), ms").AddColumns("op", "count", "self");
            foreach (var (op, ms, count) in tops.Take(15)) tt.AddRow(op, count.ToString(), ms.ToString("F2"));
            AnsiConsole.Write(tt);
        }
        return 0;
    }
}
