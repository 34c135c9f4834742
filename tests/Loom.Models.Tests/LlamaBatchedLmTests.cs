using Loom.Models.Inference;
using Loom.Models.Llama;
using Loom.Nn;
using Loom.Tensors;

namespace Loom.Models.Tests;

public class LlamaBatchedLmTests
{
    /// <summary>One sequence run alone through LlamaModel.Forward with a LlamaCache: the reference.</summary>
    private sealed class Reference(LlamaModel model) : IDisposable
    {
        private readonly LlamaCache _cache = new(model.Config, 1);
        public readonly List<int> Tokens = new();

        public float[] Append(int[] ids)
        {
            Tokens.AddRange(ids);
            using var _ = Autograd.NoGrad();
            using var y = model.Forward(ids, 1, ids.Length, _cache);   // (1, T, V)
            int v = model.Config.VocabSize;
            return y.ToArray()[((ids.Length - 1) * v)..(ids.Length * v)];
        }

        public void Truncate(int n)
        {
            _cache.Truncate(n);
            Tokens.RemoveRange(n, Tokens.Count - n);
        }

        public void Dispose() => _cache.Dispose();
    }

    private static void AssertRow(float[] expected, ReadOnlySpan<float> all, int row, string what, float tol = 1e-4f)
    {
        int v = expected.Length;
        var actual = all.Slice(row * v, v);
        for (int i = 0; i < v; i++)
            Assert.True(MathF.Abs(expected[i] - actual[i]) <= tol * (1 + MathF.Abs(expected[i])), $"{what}: logit {i} is {actual[i]}, expected {expected[i]}");
    }

    private static int[] Ids(Rng rng, int n, int vocab) => Enumerable.Range(0, n).Select(_ => rng.NextInt(vocab)).ToArray();

    [Theory]
    [InlineData(false, KvCacheType.F32)]
    [InlineData(true, KvCacheType.F32)]
    [InlineData(false, KvCacheType.F16)]
    public void MixedPrefillAndDecodeRowsMatchEachSequenceRunAlone(bool tied, KvCacheType cacheType)
    {
        var config = LlamaModelTests.Tiny(tied: tied);
        var model = new LlamaModel(config, new Rng(11));
        model.Eval();
        int v = config.VocabSize;
        var rng = new Rng(5);
        using var lm = new LlamaBatchedLm(model, slots: 4, contextLength: 48, cacheType);
        Assert.Equal(4, lm.SlotCount);
        Assert.Equal(48, lm.ContextLength);
        Assert.Equal(v, lm.VocabSize);
        float tol = cacheType == KvCacheType.F16 ? 1e-2f : 1e-4f;   // f16 keys/values round to 11 bits
        var refs = Enumerable.Range(0, 4).Select(_ => new Reference(model)).ToArray();
        try
        {
            // Each step: (slot, tokens) rows; prefill and decode rows mixed, slots at different positions.
            var steps = new (int Slot, int Count)[][]
            {
                [(0, 5), (2, 3)],
                [(0, 1), (1, 7), (2, 6)],
                [(2, 1), (0, 1), (3, 1), (1, 1)],
                [(1, 4), (3, 9)],
                [(0, 1), (1, 1), (2, 1), (3, 1)],
            };
            foreach (var step in steps)
            {
                var rows = step.Select(s => new BatchRow(s.Slot, Ids(rng, s.Count, v))).ToArray();
                var logits = new float[rows.Length * v];
                lm.Forward(rows, logits);
                for (int r = 0; r < rows.Length; r++)
                {
                    var expected = refs[rows[r].Slot].Append(rows[r].Tokens.ToArray());
                    AssertRow(expected, logits, r, $"slot {rows[r].Slot} at length {refs[rows[r].Slot].Tokens.Count}", tol);
                    Assert.Equal(refs[rows[r].Slot].Tokens.Count, lm.SlotLength(rows[r].Slot));
                }
            }
            // Prefix reuse: keep 4 tokens of slot 1 and continue differently; slot 0 emptied and restarted.
            lm.TruncateSlot(1, 4);
            refs[1].Truncate(4);
            lm.TruncateSlot(0, 0);
            refs[0].Dispose();
            refs[0] = new Reference(model);
            var again = new[] { new BatchRow(1, Ids(rng, 3, v)), new BatchRow(0, Ids(rng, 6, v)) };
            var l2 = new float[2 * v];
            lm.Forward(again, l2);
            AssertRow(refs[1].Append(again[0].Tokens.ToArray()), l2, 0, "slot 1 after truncation");
            AssertRow(refs[0].Append(again[1].Tokens.ToArray()), l2, 1, "slot 0 after reset");
            Assert.Equal(7, lm.SlotLength(1));
        }
        finally
        {
            foreach (var r in refs) r.Dispose();
        }
    }

    [Fact]
    public void RowsLongerThanAChunkMatchTheReference()
    {
        var config = LlamaModelTests.Tiny() with { MaxSeqLen = 700 };
        var model = new LlamaModel(config, new Rng(12));
        model.Eval();
        int v = config.VocabSize;
        var rng = new Rng(6);
        using var lm = new LlamaBatchedLm(model, 2, 700);
        using var a = new Reference(model);
        using var b = new Reference(model);
        var rows = new[] { new BatchRow(0, Ids(rng, 300, v)), new BatchRow(1, Ids(rng, 400, v)) };
        var logits = new float[2 * v];
        lm.Forward(rows, logits);
        AssertRow(a.Append(rows[0].Tokens.ToArray()), logits, 0, "300-token row");
        AssertRow(b.Append(rows[1].Tokens.ToArray()), logits, 1, "400-token row split across chunks");
        Assert.Equal(400, lm.SlotLength(1));
    }

    [Fact]
    public void BadBatchesAreRejectedWithoutChangingTheCache()
    {
        var model = new LlamaModel(LlamaModelTests.Tiny(), new Rng(13));
        using var lm = new LlamaBatchedLm(model, 2, 8);
        var logits = new float[2 * model.Config.VocabSize];
        lm.Forward([new BatchRow(0, new[] { 1, 2, 3 })], logits);
        Assert.Throws<ArgumentOutOfRangeException>(() => lm.Forward([new BatchRow(2, new[] { 1 })], logits));
        Assert.Throws<ArgumentException>(() => lm.Forward([new BatchRow(0, new[] { 1 }), new BatchRow(0, new[] { 2 })], logits));
        Assert.Throws<ArgumentException>(() => lm.Forward([new BatchRow(0, new[] { 1, 2, 3, 4, 5, 6 })], logits));
        Assert.Throws<ArgumentOutOfRangeException>(() => lm.Forward([new BatchRow(1, new[] { 300 })], logits));
        Assert.Throws<ArgumentException>(() => lm.Forward([new BatchRow(1, Array.Empty<int>())], logits));
        Assert.Throws<ArgumentOutOfRangeException>(() => lm.TruncateSlot(0, 4));
        Assert.Equal(3, lm.SlotLength(0));
        Assert.Equal(0, lm.SlotLength(1));
    }
}
