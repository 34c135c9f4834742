namespace Loom.Tensors;

/// <summary>
/// Seeded, reproducible random numbers (xoshiro256**), with a state that a checkpoint can save and restore.
/// Normal samples use Box-Muller on pairs; the spare sample is part of the state.
/// </summary>
public sealed class Rng
{
    private ulong _s0, _s1, _s2, _s3;
    private double _spare;
    private bool _hasSpare;

    public Rng(ulong seed) => Reseed(seed);

    public void Reseed(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix(ref x); _s1 = SplitMix(ref x); _s2 = SplitMix(ref x); _s3 = SplitMix(ref x);
        _hasSpare = false;
        _spare = 0;
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0; _s3 ^= _s1; _s1 ^= _s2; _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1).</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [0, 1) as float.</summary>
    public float NextFloat() => (NextUInt64() >> 40) * (1f / (1 << 24));

    /// <summary>Uniform integer in [0, n).</summary>
    public int NextInt(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n));
        return (int)((NextUInt64() >> 32) * (ulong)n >> 32);
    }

    public double NextNormal()
    {
        if (_hasSpare) { _hasSpare = false; return _spare; }
        double u1;
        do u1 = NextDouble(); while (u1 <= double.Epsilon);
        double u2 = NextDouble();
        double r = Math.Sqrt(-2.0 * Math.Log(u1));
        _spare = r * Math.Sin(2 * Math.PI * u2);
        _hasSpare = true;
        return r * Math.Cos(2 * Math.PI * u2);
    }

    public void FillUniform(Span<float> dst, float low = 0f, float high = 1f)
    {
        float scale = high - low;
        for (int i = 0; i < dst.Length; i++) dst[i] = low + scale * NextFloat();
    }

    public void FillNormal(Span<float> dst, float mean = 0f, float std = 1f)
    {
        for (int i = 0; i < dst.Length; i++) dst[i] = mean + std * (float)NextNormal();
    }

    /// <summary>The full state, for checkpoints: 4 words of xoshiro, the spare normal and its flag.</summary>
    public ulong[] GetState() => [_s0, _s1, _s2, _s3, (ulong)BitConverter.DoubleToInt64Bits(_spare), _hasSpare ? 1UL : 0UL];

    public void SetState(ReadOnlySpan<ulong> state)
    {
        if (state.Length != 6) throw new ArgumentException($"RNG state must have 6 words, got {state.Length}");
        _s0 = state[0]; _s1 = state[1]; _s2 = state[2]; _s3 = state[3];
        _spare = BitConverter.Int64BitsToDouble((long)state[4]);
        _hasSpare = state[5] != 0;
    }
}

public sealed partial class Tensor
{
    public static Tensor RandUniform(Rng rng, float low, float high, params int[] shape)
    {
        var t = Empty(shape);
        rng.FillUniform(t.Span, low, high);
        return t;
    }

    public static Tensor RandNormal(Rng rng, float mean, float std, params int[] shape)
    {
        var t = Empty(shape);
        rng.FillNormal(t.Span, mean, std);
        return t;
    }
}
