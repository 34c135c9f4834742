using Loom.Models.Inference;
using Loom.Testing;

namespace Loom.Models.Tests;

/// <summary>
/// A batch-invariant batch (what the server uses) gives a sequence the same logits, bit for bit, whether it runs alone
/// or beside other sequences, decoding or reading their prompts, in the same forward passes.
/// </summary>
public class BatchInvariantDecoderTests
{
    [Fact]
    public void ASequencesLogitsDoNotDependOnTheRestOfTheBatch()
    {
        var model = InferenceModel.Load(Path.Combine(Fixtures.RepoRoot, "models", "default"));
        int vocab = model.Decoder.Config.VocabSize;
        int[] prompt = [12, 400, 7, 93, 1500, 3, 88, 2048, 61, 5, 700, 42, 9, 310, 77, 1024, 15, 230, 8];
        int[] next = [33, 1200, 4, 500, 66];

        // Alone: the prompt in one pass, then one token per pass.
        var alone = new List<float[]>();
        using (var lm = model.CreateBatch(4, 64, batchInvariant: true))
        {
            var logits = new float[vocab];
            lm.Forward([new BatchRow(0, prompt)], logits);
            alone.Add(logits.ToArray());
            foreach (int t in next) { lm.Forward([new BatchRow(0, new[] { t })], logits); alone.Add(logits.ToArray()); }
        }

        // In company: the prompt in two pieces beside other sequences' prompts and decode steps, in another slot.
        var crowd = new List<float[]>();
        using (var lm = model.CreateBatch(4, 64, batchInvariant: true))
        {
            var logits = new float[4 * vocab];
            lm.Forward([new BatchRow(0, new[] { 5, 6, 7, 8, 9, 10, 11 }), new BatchRow(2, prompt[..11])], logits.AsSpan(0, 2 * vocab));
            lm.Forward([new BatchRow(0, new[] { 99 }), new BatchRow(2, prompt[11..]), new BatchRow(3, new[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20 })], logits.AsSpan(0, 3 * vocab));
            crowd.Add(logits.AsSpan(vocab, vocab).ToArray());
            foreach (int t in next)
            {
                lm.Forward([new BatchRow(3, new[] { 300 }), new BatchRow(2, new[] { t }), new BatchRow(0, new[] { 17 }), new BatchRow(1, new[] { t + 1 })], logits);
                crowd.Add(logits.AsSpan(vocab, vocab).ToArray());
            }
        }
        for (int i = 0; i < alone.Count; i++) Assert.Equal(alone[i], crowd[i]);
    }

    /// <summary>Logits after each token fed one at a time into a fresh invariant batch: a lone request decoding.</summary>
    private static float[][] TokenByToken(InferenceModel model, int[] tokens)
    {
        using var lm = model.CreateBatch(1, 256, batchInvariant: true);
        var result = new float[tokens.Length][];
        for (int i = 0; i < tokens.Length; i++)
        {
            result[i] = new float[model.Decoder.Config.VocabSize];
            lm.Forward([new BatchRow(0, tokens.AsMemory(i, 1))], result[i]);
        }
        return result;
    }

    [Fact]
    public void RandomSchedulesWithChunkedPromptsAndReusedPrefixesGiveEveryRowItsLoneLogits()
    {
        // The server's engine splits prompts by a per-step budget that depends on the other requests, puts rows in
        // any order, and starts a request in a slot whose cache already holds a prefix of its prompt (computed there
        // by another request, as prefill or as decode steps), truncating the rest. Whatever the schedule, every row's
        // logits must equal those of its sequence fed one token at a time alone.
        var model = InferenceModel.Load(Path.Combine(Fixtures.RepoRoot, "models", "default"));
        int vocab = model.Decoder.Config.VocabSize;
        var rng = new Random(1234);
        const int slots = 4;
        var seqs = new List<int[]>();
        for (int i = 0; i < 12; i++)
        {
            var t = new int[rng.Next(20, 90)];
            // Half of them start with part of an earlier sequence, as repeated prompts and chat turns do.
            var from = i > 0 && rng.Next(2) == 0 ? seqs[rng.Next(seqs.Count)] : null;
            int shared = from == null ? 0 : rng.Next(1, Math.Min(t.Length, from.Length));
            for (int j = 0; j < t.Length; j++) t[j] = j < shared ? from![j] : rng.Next(vocab);
            seqs.Add(t);
        }
        var reference = seqs.Select(s => TokenByToken(model, s)).ToList();

        using var lm = model.CreateBatch(slots, 256, batchInvariant: true);
        var held = Enumerable.Range(0, slots).Select(_ => new List<int>()).ToArray();
        var owner = Enumerable.Repeat(-1, slots).ToArray();
        var fed = new int[slots];
        var logits = new float[slots * vocab];
        var failures = new List<string>();
        int next = 0, checks = 0, reused = 0;
        while (next < seqs.Count || owner.Any(o => o >= 0))
        {
            // Admission as the engine does it: keep the longest common prefix, but feed at least the last token.
            for (int s = 0; s < slots && next < seqs.Count; s++)
            {
                if (owner[s] >= 0 || rng.Next(3) == 0) continue;
                var t = seqs[next];
                int common = 0;
                while (common < held[s].Count && common < t.Length && held[s][common] == t[common]) common++;
                int keep = Math.Min(common, t.Length - 1);
                if (keep > 0) reused++;
                lm.TruncateSlot(s, keep);
                held[s].RemoveRange(keep, held[s].Count - keep);
                owner[s] = next++;
                fed[s] = keep;
            }
            var rows = new List<BatchRow>();
            foreach (int s in Enumerable.Range(0, slots).Where(s => owner[s] >= 0).OrderBy(_ => rng.Next()))
            {
                var t = seqs[owner[s]];
                int n = Math.Min(rng.Next(3) == 0 ? 1 : rng.Next(1, 24), t.Length - fed[s]);
                rows.Add(new BatchRow(s, t.AsMemory(fed[s], n)));
            }
            if (rows.Count == 0) continue;
            lm.Forward(rows.ToArray(), logits.AsSpan(0, rows.Count * vocab));
            for (int r = 0; r < rows.Count; r++)
            {
                int s = rows[r].Slot, q = owner[s];
                held[s].AddRange(rows[r].Tokens.ToArray());
                fed[s] += rows[r].Tokens.Length;
                checks++;
                if (!logits.AsSpan(r * vocab, vocab).SequenceEqual(reference[q][fed[s] - 1]) && failures.Count < 10)
                    failures.Add($"sequence {q} position {fed[s] - 1}: row {r} of {rows.Count}, {rows[r].Tokens.Length} tokens");
                if (fed[s] == seqs[q].Length) owner[s] = -1;
            }
        }
        Assert.True(reused > 0, "no request started from a reused prefix");
        Assert.True(failures.Count == 0, $"rows that differ from the lone run (of {checks}): {string.Join("; ", failures)}");
    }
}
