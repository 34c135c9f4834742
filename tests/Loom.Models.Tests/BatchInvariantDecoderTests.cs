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
}
