using Loom.Models.Inference;
using Loom.Text;

namespace Loom.Models.Tests;

/// <summary>Runs Loom the way tools/llamacpp/llama_oracle runs llama.cpp, so the two can be compared position by position.</summary>
public static class LlamaCppParity
{
    /// <summary>Tokens the oracle generates greedily after the prompt.</summary>
    public const int GreedyTokens = 32;

    /// <summary>A GGUF file opened as the oracle opens it: Loom's model with an F32 KV cache, its tokenizer, and one batch slot.</summary>
    public sealed class LoomRun : IDisposable
    {
        public LoomRun(string path, int contextLength)
        {
            Model = InferenceModel.Load(path, new InferenceOptions { CacheType = KvCacheType.F32 });
            try { Lm = Model.CreateBatch(1, contextLength); }
            catch
            {
                Model.Dispose();
                throw;
            }
        }

        public InferenceModel Model { get; }
        public IBatchedLm Lm { get; }
        public ITokenizer Tokenizer => Model.Tokenizer;

        /// <summary>Logits of every position of a fresh sequence (the batched prefill path), (tokens, vocab).</summary>
        public float[] AllPositionLogits(int[] tokens) => Model.Logits(tokens, allPositions: true);

        public void Dispose()
        {
            Lm.Dispose();
            Model.Dispose();
        }
    }

    /// <summary>
    /// Greedy continuation as the oracle makes it: the prompt in one batch (the prefill path), then
    /// <paramref name="count"/> tokens, each the argmax (lowest id on ties) of the previous step, fed back one at a time.
    /// </summary>
    public static int[] Greedy(IBatchedLm lm, int[] prompt, int count = GreedyTokens)
    {
        var logits = new float[lm.VocabSize];
        var result = new int[count];
        lm.TruncateSlot(0, 0);
        lm.Forward([new BatchRow(0, prompt)], logits);
        for (int g = 0; g < count; g++)
        {
            result[g] = LlamaCppFixture.ArgMax(logits);
            if (g == count - 1) break;
            lm.Forward([new BatchRow(0, result.AsMemory(g, 1))], logits);
        }
        lm.TruncateSlot(0, 0);
        return result;
    }

    /// <summary>Picks columns <paramref name="ids"/> out of (rows, vocab) logits: (rows, ids).</summary>
    public static float[] Subset(ReadOnlySpan<float> logits, int vocab, int[] ids)
    {
        int rows = logits.Length / vocab;
        var subset = new float[rows * ids.Length];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < ids.Length; j++)
                subset[r * ids.Length + j] = logits[r * vocab + ids[j]];
        return subset;
    }

    /// <summary>Argmax of every row of (rows, vocab) logits.</summary>
    public static int[] RowArgmax(ReadOnlySpan<float> logits, int vocab)
    {
        var result = new int[logits.Length / vocab];
        for (int r = 0; r < result.Length; r++) result[r] = LlamaCppFixture.ArgMax(logits.Slice(r * vocab, vocab));
        return result;
    }

    /// <summary>Index of the first difference of two sequences, or -1 when equal.</summary>
    public static int FirstDifference(int[] a, int[] b)
    {
        for (int i = 0; i < Math.Min(a.Length, b.Length); i++)
            if (a[i] != b[i]) return i;
        return a.Length == b.Length ? -1 : Math.Min(a.Length, b.Length);
    }
}
