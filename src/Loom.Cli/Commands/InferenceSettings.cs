using System.ComponentModel;
using Loom.Models.Inference;
using Loom.Tensors;
using Loom.Text.Sampling;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Loom.Cli.Commands;

/// <summary>Options every inference verb shares: the model (a .gguf file or a model folder), threads and KV-cache type.</summary>
public class ModelSettings : CommandSettings
{
    [CommandOption("-m|--model <FILE>")] [Description("A .gguf file or a model folder (config.json, model.safetensors, tokenizer.json).")]
    public string? Model { get; init; }

    [CommandOption("--threads <N>")] [Description("Compute threads (default: all cores).")]
    public int? Threads { get; init; }

    [CommandOption("--cache-type <TYPE>")] [DefaultValue("f32")] [Description("KV cache precision: f32 or f16.")]
    public string CacheType { get; init; } = "f32";

    public override ValidationResult Validate()
    {
        if (string.IsNullOrEmpty(Model)) return ValidationResult.Error("--model is required");
        if (Threads is <= 0) return ValidationResult.Error("--threads must be positive");
        if (CacheType is not ("f32" or "f16")) return ValidationResult.Error($"--cache-type must be f32 or f16, not '{CacheType}'");
        return ValidationResult.Success();
    }

    /// <summary>Applies --threads and loads the model.</summary>
    public InferenceModel Load()
    {
        if (Threads is int th) ComputePool.SetThreads(th);
        return InferenceModel.Load(Model!, new InferenceOptions { CacheType = CacheType == "f16" ? KvCacheType.F16 : KvCacheType.F32 });
    }
}

/// <summary>Model options plus the sampler's.</summary>
public class SamplingSettings : ModelSettings
{
    [CommandOption("-n|--max-tokens <N>")] [DefaultValue(256)] public int MaxTokens { get; init; }
    [CommandOption("--temperature <T>")] [DefaultValue(0.8f)] [Description("0 = greedy.")] public float Temperature { get; init; }
    [CommandOption("--top-k <K>")] [DefaultValue(40)] public int TopK { get; init; }
    [CommandOption("--top-p <P>")] [DefaultValue(0.95f)] public float TopP { get; init; }
    [CommandOption("--min-p <P>")] [DefaultValue(0.05f)] public float MinP { get; init; }
    [CommandOption("--repeat-penalty <R>")] [DefaultValue(1.0f)] public float RepeatPenalty { get; init; }
    [CommandOption("--seed <N>")] [DefaultValue(42UL)] public ulong Seed { get; init; }
    [CommandOption("--stop <TEXT>")] [Description("Stop when this text appears (repeatable).")] public string[] Stop { get; init; } = [];
    [CommandOption("--stats")] [Description("Print speed figures at the end.")] public bool Stats { get; init; }

    public override ValidationResult Validate()
    {
        var r = base.Validate();
        if (!r.Successful) return r;
        if (MaxTokens < 0) return ValidationResult.Error("--max-tokens must be >= 0");
        try { Sampler().Validate(); }
        catch (ArgumentOutOfRangeException e) { return ValidationResult.Error(e.Message.Split(Environment.NewLine)[0]); }
        return ValidationResult.Success();
    }

    public SamplerOptions Sampler() => new()
    {
        Temperature = Temperature, TopK = TopK, TopP = TopP, MinP = MinP, RepetitionPenalty = RepeatPenalty, Seed = Seed,
    };

    public void PrintStats(Loom.Models.Generation.GenerationResult r)
    {
        if (!Stats) return;
        AnsiConsole.MarkupLineInterpolated($"[grey]prompt {r.PromptTokens} tokens in {r.PromptSeconds * 1000:F0} ms ({r.PromptTokens / Math.Max(r.PromptSeconds, 1e-9):F1} tokens/s); generated {r.Tokens.Length} tokens at {r.Tokens.Length / Math.Max(r.GenerateSeconds, 1e-9):F1} tokens/s; finish: {r.Finish}[/]");
    }
}
