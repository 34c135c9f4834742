using System.Runtime.InteropServices;
using Loom.Models.Inference;
using Loom.Text;
using Loom.Text.Sampling;

namespace Loom.Models.Generation;

/// <summary>
/// Autoregressive generation on one slot of any <see cref="IBatchedLm"/> with any <see cref="ITokenizer"/>: prefill the
/// prompt, then one token per step chosen by a seeded <see cref="Sampler"/>, stopping at any of the tokenizer's
/// end-of-generation ids, a stop string, the token limit or a full slot. Text streams out through a callback.
/// </summary>
public sealed class LmGenerator(IBatchedLm lm, ITokenizer tokenizer, int slot = 0)
{
    public IBatchedLm Lm { get; } = lm;
    public ITokenizer Tokenizer { get; } = tokenizer;

    /// <summary>Generates after <paramref name="promptIds"/> (appended to the slot's current contents).</summary>
    public GenerationResult Generate(int[] promptIds, SamplerOptions options, int maxTokens, IReadOnlyList<string>? stops = null,
        Action<string>? onText = null, CancellationToken ct = default)
    {
        if (maxTokens < 0) throw new ArgumentOutOfRangeException(nameof(maxTokens), "max tokens must be >= 0");
        if (promptIds.Length == 0 && (Tokenizer.BosId ?? Tokenizer.EosId) is int start) promptIds = [start];
        if (promptIds.Length == 0) throw new ArgumentException("the prompt is empty and the tokenizer has no BOS or end-of-text token to start from");
        int room = Lm.ContextLength - Lm.SlotLength(slot);
        if (promptIds.Length >= room && !(promptIds.Length == room && maxTokens == 0))
            throw new ArgumentException($"the prompt has {promptIds.Length} tokens; the context has room for {room}, leaving none to generate");
        var sampler = new Sampler(options);
        var stream = new Utf8Stream(stops ?? []);
        var history = new List<int>(promptIds);
        var output = new List<int>();
        var text = new System.Text.StringBuilder();
        var logits = new float[Lm.VocabSize];
        var finish = FinishReason.Length;
        var sw = System.Diagnostics.Stopwatch.StartNew();
        double promptSeconds = 0;
        var next = promptIds;
        var one = new int[1];
        for (int step = 0; step <= maxTokens; step++)
        {
            ct.ThrowIfCancellationRequested();
            Lm.Forward([new BatchRow(slot, next)], logits);
            if (step == 0) { promptSeconds = sw.Elapsed.TotalSeconds; sw.Restart(); }
            if (step == maxTokens) break;
            int token = sampler.Sample(logits, CollectionsMarshal.AsSpan(history));
            if (Tokenizer.EndOfGeneration.Contains(token)) { finish = FinishReason.EndOfText; break; }
            output.Add(token);
            history.Add(token);
            var piece = stream.Push(Tokenizer.DecodeBytes([token], skipSpecial: false));
            if (piece.Length > 0) { text.Append(piece); onText?.Invoke(piece); }
            if (stream.Stopped) { finish = FinishReason.Stop; break; }
            if (output.Count == maxTokens) break;
            if (Lm.SlotLength(slot) + 1 > Lm.ContextLength) { finish = FinishReason.ContextFull; break; }
            one[0] = token;
            next = one;
        }
        var rest = stream.Flush();
        if (rest.Length > 0) { text.Append(rest); onText?.Invoke(rest); }
        return new GenerationResult(text.ToString(), output.ToArray(), promptIds.Length, finish, promptSeconds, sw.Elapsed.TotalSeconds);
    }
}
