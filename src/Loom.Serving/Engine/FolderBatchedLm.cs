using Loom.Models.Inference;
using Loom.Models.Llama;
using Loom.Nn;
using Loom.Tensors;

namespace Loom.Serving.Engine;

/// <summary>
/// TEMPORARY stand-in for Loom.Models.Inference.LlamaBatchedLm (being written on another branch): one
/// <see cref="LlamaCache"/> per slot, each row run as its own forward pass. Correct, but rows do not share a pass.
/// </summary>
internal sealed class FolderBatchedLm : IBatchedLm
{
    private readonly LlamaModel _model;
    private readonly LlamaCache[] _caches;

    public FolderBatchedLm(LlamaModel model, int slots, int contextLength)
    {
        _model = model;
        ContextLength = Math.Min(contextLength, model.Config.MaxSeqLen);
        _caches = new LlamaCache[slots];
        for (int i = 0; i < slots; i++) _caches[i] = new LlamaCache(model.Config, 1, ContextLength);
    }

    public int VocabSize => _model.Config.VocabSize;
    public int ContextLength { get; }
    public int SlotCount => _caches.Length;
    public int SlotLength(int slot) => _caches[slot].Length;
    public void TruncateSlot(int slot, int length) => _caches[slot].Truncate(length);

    public void Forward(ReadOnlySpan<BatchRow> rows, Span<float> logits)
    {
        int vocab = VocabSize;
        using var _ = Autograd.NoGrad();
        for (int r = 0; r < rows.Length; r++)
        {
            var ids = rows[r].Tokens.ToArray();
            using var scope = new TensorScope();
            var y = _model.Forward(ids, 1, ids.Length, _caches[rows[r].Slot]);     // (1, T, V)
            y.Span.Slice((ids.Length - 1) * vocab, vocab).CopyTo(logits.Slice(r * vocab, vocab));
        }
    }

    public void Dispose()
    {
        foreach (var c in _caches) c.Dispose();
    }

    public static ServedModel LoadServed(string path, string? name)
    {
        var (model, tokenizer) = ModelFolder.Load(path);
        var c = model.Config;
        long kvPerToken = 2L * c.Layers * c.KvHeads * c.HeadDim * sizeof(float);
        name ??= Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(path)));
        return new ServedModel(name, tokenizer, null, c.MaxSeqLen, kvPerToken, (slots, ctx) => new FolderBatchedLm(model, slots, ctx), null);
    }
}
