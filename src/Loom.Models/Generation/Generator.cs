using Loom.Models.Llama;
using Loom.Nn;
using Loom.Tensors;
using Loom.Text;
using Loom.Text.Sampling;

namespace Loom.Models.Generation;

/// <summary>Why generation ended.</summary>
public enum FinishReason { Length, Stop, EndOfText, ContextFull }

/// <summary>The outcome of one generation: the text, its token ids and counts.</summary>
public sealed record GenerationResult(string Text, int[] Tokens, int PromptTokens, FinishReason Finish, double PromptSeconds, double GenerateSeconds);

/// <summary>
/// Autoregressive text generation with a KV cache: the prompt in one forward pass (prefill), then one token
/// per step, each chosen by a seeded <see cref="Sampler"/>; text streams out through a callback.
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
        // An empty prompt means unconditional generation: start from the document separator.
        if (promptIds.Length == 0 && (Tokenizer.BosId ?? Tokenizer.EosId) is int start) promptIds = [start];
        if (promptIds.Length == 0) throw new ArgumentException("the prompt is empty and the tokenizer has no BOS or end-of-text token to start from");
        int ctx = Model.Config.MaxSeqLen;
        if (promptIds.Length >= ctx)
            throw new ArgumentException($"the prompt has {promptIds.Length} tokens; the model's context is {ctx}, leaving no room to generate");
        var sampler = new Sampler(options);
        var stream = new Utf8Stream(stops ?? []);
        var history = new List<int>(promptIds);
        var output = new List<int>();
        var text = new System.Text.StringBuilder();
        int vocab = Model.Config.VocabSize;
        var logits = new float[vocab];
        var finish = FinishReason.Length;
        var sw = System.Diagnostics.Stopwatch.StartNew();
        double promptSeconds = 0;
        using var _ = Autograd.NoGrad();
        using var cache = new LlamaCache(Model.Config, 1, Math.Min(ctx, promptIds.Length + maxTokens));
        int[] next = promptIds;
        for (int step = 0; step <= maxTokens; step++)
        {
            ct.ThrowIfCancellationRequested();
            using (var scope = new TensorScope())
            {
                var y = Model.Forward(next, 1, next.Length, cache);     // (1, T, V)
                y.Span.Slice((next.Length - 1) * vocab, vocab).CopyTo(logits);
            }
            if (step == 0) { promptSeconds = sw.Elapsed.TotalSeconds; sw.Restart(); }
            if (step == maxTokens) break;
            int token = sampler.Sample(logits, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(history));
            if (token == Tokenizer.EosId) { finish = FinishReason.EndOfText; break; }
            output.Add(token);
            history.Add(token);
            var piece = stream.Push(Tokenizer.DecodeBytes([token]));
            if (piece.Length > 0) { text.Append(piece); onText?.Invoke(piece); }
            if (stream.Stopped) { finish = FinishReason.Stop; break; }
            if (cache.Length + 1 > cache.Capacity) { finish = cache.Capacity < ctx ? FinishReason.Length : FinishReason.ContextFull; break; }
            next = [token];
        }
        var rest = stream.Flush();
        if (rest.Length > 0) { text.Append(rest); onText?.Invoke(rest); }
        return new GenerationResult(text.ToString(), output.ToArray(), promptIds.Length, finish, promptSeconds, sw.Elapsed.TotalSeconds);
    }
}
