using System.ComponentModel;
using System.Text.Json;
using Loom.Bench;
using Loom.Models.Inference;
using Loom.Tensors;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Loom.Cli.Commands;

/// <summary>`loom bench decode`: prompt-processing and generation tokens/s of Loom and llama.cpp on one GGUF file, same run, same threads.</summary>
public sealed class BenchDecodeCommand : Command<BenchDecodeCommand.Settings>
{
    /// <summary>Options of `loom bench decode`.</summary>
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--model <FILE>")]
        [Description("GGUF model file.")]
        public string? Model { get; set; }

        [CommandOption("--threads <N>")]
        [Description("Compute threads for Loom and llama.cpp alike (default: 2).")]
        [DefaultValue(2)]
        public int Threads { get; set; } = 2;

        [CommandOption("--pp <N>")]
        [Description("Prompt tokens processed in one batch (default: 512).")]
        [DefaultValue(512)]
        public int PromptTokens { get; set; } = 512;

        [CommandOption("--tg <N>")]
        [Description("Tokens generated one at a time after a 4-token prompt (default: 128).")]
        [DefaultValue(128)]
        public int GenTokens { get; set; } = 128;

        [CommandOption("--reps <N>")]
        [Description("Timed runs after one warm-up; the median is reported (default: 3).")]
        [DefaultValue(3)]
        public int Reps { get; set; } = 3;

        [CommandOption("--rounds <N>")]
        [Description("Alternate Loom and llama.cpp this many times and report the medians over rounds (default: 1).")]
        [DefaultValue(1)]
        public int Rounds { get; set; } = 1;

        [CommandOption("--no-llamacpp")]
        [Description("Skip llama.cpp even when tools/llamacpp (or LOOM_LLAMACPP_DIR) has it installed.")]
        public bool NoLlamaCpp { get; set; }

        [CommandOption("--bandwidth")]
        [Description("Also measure STREAM-triad memory bandwidth with the same thread count, for scale.")]
        public bool Bandwidth { get; set; }

        [CommandOption("--json")]
        [Description("Print only {\"pp_tokens_per_s\",\"tg_tokens_per_s\",\"llamacpp_pp_tokens_per_s\",\"llamacpp_tg_tokens_per_s\"} (llama.cpp's null when it is not installed) plus threads and triad_gb_per_s.")]
        public bool Json { get; set; }

        public override ValidationResult Validate()
        {
            if (string.IsNullOrEmpty(Model)) return ValidationResult.Error("--model FILE is required");
            if (!File.Exists(Model)) return ValidationResult.Error($"--model: no such file '{Model}'");
            if (Threads < 1) return ValidationResult.Error("--threads must be at least 1");
            if (PromptTokens < 1) return ValidationResult.Error("--pp must be at least 1");
            if (GenTokens < 1) return ValidationResult.Error("--tg must be at least 1");
            if (Reps < 1) return ValidationResult.Error("--reps must be at least 1");
            if (Rounds < 1) return ValidationResult.Error("--rounds must be at least 1");
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        var err = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        string path = s.Model!;
        ComputePool.SetThreads(s.Threads);
        int contextLength = Math.Max(s.PromptTokens, DecodeBenchmark.ShortPrompt + s.GenTokens);

        err.MarkupLineInterpolated($"[grey]Loom: {path}, {s.Threads} thread(s), pp {s.PromptTokens}, tg {s.GenTokens}, median of {s.Reps}, {s.Rounds} round(s)[/]");
        string peerNote = "not installed (run tools/llamacpp/install.sh, or set LOOM_LLAMACPP_DIR)";
        LlamaCpp? llama = null;
        if (s.NoLlamaCpp) peerNote = "skipped (--no-llamacpp)";
        else if (LlamaCpp.Instance is { } found)
        {
            llama = found;
            err.MarkupLineInterpolated($"[grey]llama.cpp: {llama.Bins} (weights mmap + mlock)[/]");
        }
        // Rounds alternate Loom and llama.cpp, so a slow drift of this shared machine's speed hits both alike.
        var loomRounds = new List<DecodeSpeed>();
        var peerRounds = new List<DecodeSpeed>();
        using (var model = InferenceModel.Load(path, new InferenceOptions { CacheType = KvCacheType.F16 }))
        using (var lm = model.CreateBatch(1, contextLength))
        {
            for (int round = 0; round < s.Rounds; round++)
            {
                loomRounds.Add(DecodeBenchmark.RunLoom(lm, s.PromptTokens, s.GenTokens, s.Reps));
                if (llama != null)
                {
                    var (pp, tg) = llama.BenchDecode(path, s.Threads, s.PromptTokens, s.GenTokens, s.Reps);
                    peerRounds.Add(new DecodeSpeed(pp, tg));
                }
                if (s.Rounds > 1)
                {
                    string peerText = llama != null ? $", llama.cpp pp {peerRounds[^1].PromptTokensPerS:F1} tg {peerRounds[^1].GenTokensPerS:F1}" : "";
                    err.MarkupLineInterpolated($"[grey]round {round + 1}: Loom pp {loomRounds[^1].PromptTokensPerS:F1} tg {loomRounds[^1].GenTokensPerS:F1}{peerText}[/]");
                }
            }
        }
        var loom = new DecodeSpeed(LlamaCpp.Median([.. loomRounds.Select(r => r.PromptTokensPerS)]), LlamaCpp.Median([.. loomRounds.Select(r => r.GenTokensPerS)]));
        DecodeSpeed? peer = peerRounds.Count == 0 ? null
            : new DecodeSpeed(LlamaCpp.Median([.. peerRounds.Select(r => r.PromptTokensPerS)]), LlamaCpp.Median([.. peerRounds.Select(r => r.GenTokensPerS)]));
        double? triad = s.Bandwidth ? DecodeBenchmark.TriadGBps(s.Threads) : null;

        if (s.Json)
        {
            using var buffer = new MemoryStream();
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                w.WriteNumber("pp_tokens_per_s", Math.Round(loom.PromptTokensPerS, 3));
                w.WriteNumber("tg_tokens_per_s", Math.Round(loom.GenTokensPerS, 3));
                WriteOptional(w, "llamacpp_pp_tokens_per_s", peer?.PromptTokensPerS);
                WriteOptional(w, "llamacpp_tg_tokens_per_s", peer?.GenTokensPerS);
                w.WriteNumber("threads", s.Threads);
                WriteOptional(w, "triad_gb_per_s", triad);
                w.WriteEndObject();
            }
            Console.Out.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
            return 0;
        }

        var table = new Table().Title($"{Path.GetFileName(path)}, {s.Threads} thread(s), median of {s.Reps}" + (s.Rounds > 1 ? $" x {s.Rounds} alternating rounds" : "") + " (tokens/s)")
            .AddColumns("test", "Loom", "llama.cpp", "Loom / llama.cpp");
        table.AddRow($"pp{s.PromptTokens}", loom.PromptTokensPerS.ToString("F1"), peer?.PromptTokensPerS.ToString("F1") ?? "-",
            peer is { } p1 ? (loom.PromptTokensPerS / p1.PromptTokensPerS).ToString("F2") : "-");
        table.AddRow($"tg{s.GenTokens}", loom.GenTokensPerS.ToString("F1"), peer?.GenTokensPerS.ToString("F1") ?? "-",
            peer is { } p2 ? (loom.GenTokensPerS / p2.GenTokensPerS).ToString("F2") : "-");
        AnsiConsole.Write(table);
        if (peer is null) AnsiConsole.MarkupLineInterpolated($"llama.cpp: {peerNote}");
        if (triad is { } gb) AnsiConsole.MarkupLineInterpolated($"STREAM triad, {s.Threads} thread(s): [bold]{gb:F1}[/] GB/s");
        return 0;
    }

    private static void WriteOptional(Utf8JsonWriter w, string name, double? value)
    {
        if (value is { } v) w.WriteNumber(name, Math.Round(v, 3));
        else w.WriteNull(name);
    }
}
