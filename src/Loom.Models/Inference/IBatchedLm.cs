namespace Loom.Models.Inference;

/// <summary>One row of a ragged batch: tokens appended to one sequence slot's KV cache.</summary>
public readonly record struct BatchRow(int Slot, ReadOnlyMemory<int> Tokens);

/// <summary>
/// A language model with a fixed number of KV-cache slots, stepped on ragged batches: every row continues its own
/// sequence at its own position, and all rows share the forward pass (continuous batching, as llama_decode does).
/// </summary>
public interface IBatchedLm : IDisposable
{
    int VocabSize { get; }
    /// <summary>Tokens one slot can hold.</summary>
    int ContextLength { get; }
    int SlotCount { get; }

    /// <summary>Tokens cached in a slot.</summary>
    int SlotLength(int slot);

    /// <summary>Drops a slot's cache past <paramref name="length"/> tokens (0 empties it), so a shared prefix can be kept.</summary>
    void TruncateSlot(int slot, int length);

    /// <summary>Appends each row's tokens to its slot and writes the logits of each row's last token into row i of <paramref name="logits"/> (rows, VocabSize).</summary>
    void Forward(ReadOnlySpan<BatchRow> rows, Span<float> logits);
}
