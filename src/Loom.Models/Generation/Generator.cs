using Loom.Models.Inference;
using Loom.Models.Llama;
using Loom.Text;
using Loom.Text.Sampling;

namespace Loom.Models.Generation;

/// <summary>Why generation ended.</summary>
public enum FinishReason { Length, Stop, EndOfText, ContextFull }

/// <summary>The outcome of one generation: the text, its token ids and counts.</summary>
public sealed record GenerationResult(string Text, int[] Tokens, int PromptTokens, FinishReason Finish, double PromptSeconds, double GenerateSeconds);

/// <summary>
/// Generation from a Loom-trained <see cref="LlamaModel"/>: the model's weights run in the inference decoder
/// (<see cref="LlamaBatchedLm"/>, one slot sized to the prompt plus the token budget) and <see cref="LmGenerator"/>
/// does the sampling loop, as for GGUF models.
/// </summary>
public sealed class Generator(LlamaModel model, BpeTokenizer tokenizer)
{
    public LlamaModel Model { get; } = model;
    public BpeTokenizer Tokenizer { get; } = tokenizer;

    public GenerationResult Generate(string prompt, SamplerOptions options, int maxTokens, IReadOnlyList<string>? stops = null,
        Action<string>? onText = null, CancellationToken ct = default)
    {
        var ids = Tokenizer.Encode(prompt, addBos: Tokenizer.BosId.HasValue);
        return Generate(ids, options, maxTokens, stops, onText, ct);
    }

    public GenerationResult Generate(int[] promptIds, SamplerOptions options, int maxTokens, IReadOnlyList<string>? stops = null,
        Action<string>? onText = null, CancellationToken ct = default)
    {
        if (maxTokens < 0) throw new ArgumentOutOfRangeException(nameof(maxTokens), "max tokens must be >= 0");
        int ctx = Model.Config.MaxSeqLen;
        if (promptIds.Length >= ctx)
            throw new ArgumentException($"the prompt has {promptIds.Length} tokens; the model's context is {ctx}, leaving no room to generate");
        using var lm = new LlamaBatchedLm(Model, 1, Math.Min(ctx, Math.Max(1, promptIds.Length) + maxTokens));
        return new LmGenerator(lm, Tokenizer).Generate(promptIds, options, maxTokens, stops, onText, ct);
    }
}
