using Loom.Models.Inference;
using Loom.Serving.Engine;

namespace Loom.Serving.Tests;

/// <summary>
/// The bundled model with a pause after every forward pass, so a test can act while a sequence is still generating;
/// with a gate, every forward pass first waits for the gate to open (up to a minute, so a failed test cannot hang).
/// </summary>
internal static class SlowModel
{
    public static ServedModel Load(int delayMs, ManualResetEventSlim? gate = null)
    {
        var real = ServedModel.Load(ServerFixture.ModelPath);
        return new ServedModel("default", real.Tokenizer, real.ChatTemplate, real.ContextLength, real.KvBytesPerToken,
            (slots, ctx) => new Delayed(real.CreateBatch(slots, ctx), delayMs, gate), real.CanEmbed ? real.Embed : null);
    }

    private sealed class Delayed(IBatchedLm inner, int delayMs, ManualResetEventSlim? gate) : IBatchedLm
    {
        public int VocabSize => inner.VocabSize;
        public int ContextLength => inner.ContextLength;
        public int SlotCount => inner.SlotCount;
        public int SlotLength(int slot) => inner.SlotLength(slot);
        public void TruncateSlot(int slot, int length) => inner.TruncateSlot(slot, length);

        public void Forward(ReadOnlySpan<BatchRow> rows, Span<float> logits)
        {
            gate?.Wait(TimeSpan.FromMinutes(1));
            inner.Forward(rows, logits);
            Thread.Sleep(delayMs);
        }

        public void Dispose() => inner.Dispose();
    }
}
