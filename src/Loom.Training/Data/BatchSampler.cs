using Loom.Tensors;

namespace Loom.Training.Data;

/// <summary>
/// Draws (B, T) input windows and their next-token targets from a token sequence at seeded random offsets,
/// as nanoGPT does; the sampler's RNG state goes into checkpoints so a resumed run sees the same batches.
/// </summary>
public sealed class BatchSampler
{
    private readonly Func<long, Span<int>, int> _read;
    private readonly int[] _window;   // one (T + 1)-token window, reused across batches

    public long Tokens { get; }
    public int Batch { get; }
    public int Time { get; }
    public Rng Rng { get; }

    public BatchSampler(TokenShard shard, int batch, int time, ulong seed)
        : this(shard.Count, (start, dst) => { shard.Read(start, dst); return dst.Length; }, batch, time, seed) { }

    public BatchSampler(int[] tokens, int batch, int time, ulong seed)
        : this(tokens.LongLength, (start, dst) => { tokens.AsSpan((int)start, dst.Length).CopyTo(dst); return dst.Length; }, batch, time, seed) { }

    private BatchSampler(long count, Func<long, Span<int>, int> read, int batch, int time, ulong seed)
    {
        if (count < time + 1) throw new ArgumentException($"the data has {count} tokens, fewer than one window of {time + 1} (context {time} + 1)");
        _read = read;
        _window = new int[time + 1];
        Tokens = count;
        Batch = batch;
        Time = time;
        Rng = new Rng(seed);
    }

    /// <summary>Fills inputs and targets, each B*T ids, row-major (B, T).</summary>
    public void Next(int[] inputs, int[] targets)
    {
        var buf = _window;
        long range = Tokens - Time;
        for (int b = 0; b < Batch; b++)
        {
            long start = (long)(Rng.NextDouble() * range);
            _read(start, buf);
            buf.AsSpan(0, Time).CopyTo(inputs.AsSpan(b * Time, Time));
            buf.AsSpan(1, Time).CopyTo(targets.AsSpan(b * Time, Time));
        }
    }
}
