using Loom.Nn;

namespace Loom.Models.Llama;

/// <summary>
/// One <see cref="KvCache"/> per decoder layer, preallocated for the whole context so decoding allocates
/// nothing per token. All layers hold the same number of positions between forward passes.
/// </summary>
public sealed class LlamaCache : IDisposable
{
    private readonly KvCache[] _layers;

    public LlamaCache(LlamaConfig c, int batch, int capacity = 0)
    {
        Capacity = capacity > 0 ? Math.Min(capacity, c.MaxSeqLen) : c.MaxSeqLen;
        _layers = new KvCache[c.Layers];
        for (int i = 0; i < c.Layers; i++) _layers[i] = new KvCache(batch, c.KvHeads, Capacity, c.HeadDim);
    }

    public int Capacity { get; }

    /// <summary>Positions cached so far (the position of the next token).</summary>
    public int Length => _layers[0].Length;

    public KvCache Layer(int i) => _layers[i];

    public void Reset()
    {
        foreach (var l in _layers) l.Reset();
    }

    /// <summary>Keeps the first <paramref name="length"/> positions of every layer.</summary>
    public void Truncate(int length)
    {
        foreach (var l in _layers) l.Truncate(length);
    }

    public void Dispose()
    {
        foreach (var l in _layers) l.Dispose();
    }
}
