using System.Runtime.Intrinsics;
using Loom.Tensors;

namespace Loom.Text.Sampling;

/// <summary>
/// Picks next tokens from logits: penalties, then temperature, top-k, top-p and min-p, then a draw from a
/// seeded RNG, so the same seed gives the same text. Buffers are reused across calls; one sampler per sequence.
/// </summary>
public sealed class Sampler
{
    private readonly SamplerOptions _o;
    private readonly Rng _rng;
    private int[] _idx = [];
    private float[] _p = [];
    private (float, int)[] _keys = [];
    private readonly Dictionary<int, int> _counts = new();

    public Sampler(SamplerOptions options)
    {
        options.Validate();
        _o = options;
        _rng = new Rng(options.Seed);
    }

    public SamplerOptions Options => _o;

    /// <summary>Chooses a token. <paramref name="logits"/> is modified (penalties and scaling applied in place).</summary>
    public int Sample(Span<float> logits, ReadOnlySpan<int> history)
    {
        if (logits.Length == 0) throw new ArgumentException("empty logits");
        ApplyPenalties(logits, history);
        if (_o.Temperature == 0) return ArgMax(logits);
        int n = logits.Length;
        if (_idx.Length < n) { _idx = new int[n]; _p = new float[n]; }
        var idx = _idx.AsSpan(0, n);
        var p = _p.AsSpan(0, n);
        for (int i = 0; i < n; i++) idx[i] = i;

        // Keep the candidates in descending logit order; top-k first, so the sort is only over k.
        int k = _o.TopK > 0 ? Math.Min(_o.TopK, n) : n;
        if (_keys.Length < k) _keys = new (float, int)[k];
        TopKDescending(logits, idx, k, _keys);
        var cand = idx[..k];
        float max = logits[cand[0]];
        double sum = 0;
        for (int i = 0; i < k; i++)
        {
            float e = MathF.Exp((logits[cand[i]] - max) / _o.Temperature);
            p[i] = e;
            sum += e;
        }
        int keep = k;
        if (_o.MinP > 0)
        {
            float threshold = p[0] * _o.MinP;
            int m = 1;
            while (m < keep && p[m] >= threshold) m++;
            keep = m;
        }
        if (_o.TopP < 1)
        {
            double total = 0;
            for (int i = 0; i < keep; i++) total += p[i];
            double acc = 0;
            int m = 0;
            while (m < keep)
            {
                acc += p[m++];
                if (acc >= _o.TopP * total) break;
            }
            keep = m;
        }
        double z = 0;
        for (int i = 0; i < keep; i++) z += p[i];
        double r = _rng.NextDouble() * z;
        for (int i = 0; i < keep; i++)
        {
            r -= p[i];
            if (r < 0) return cand[i];
        }
        return cand[keep - 1];
    }

    private void ApplyPenalties(Span<float> logits, ReadOnlySpan<int> history)
    {
        if (_o.RepetitionPenalty == 1 && _o.PresencePenalty == 0 && _o.FrequencyPenalty == 0) return;
        var window = history.Length > _o.PenaltyWindow ? history[^_o.PenaltyWindow..] : history;
        _counts.Clear();
        foreach (int t in window)
            if ((uint)t < (uint)logits.Length) _counts[t] = _counts.GetValueOrDefault(t) + 1;
        foreach (var (t, c) in _counts)
        {
            float l = logits[t];
            if (_o.RepetitionPenalty != 1) l = l > 0 ? l / _o.RepetitionPenalty : l * _o.RepetitionPenalty;
            l -= _o.PresencePenalty + _o.FrequencyPenalty * c;
            logits[t] = l;
        }
    }

    public static int ArgMax(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    /// <summary>Moves the k largest (ties: lower index first) to the front of idx (the identity on entry), sorted descending.</summary>
    internal static void TopKDescending(ReadOnlySpan<float> logits, Span<int> idx, int k, (float, int)[] keys)
    {
        int n = idx.Length;
        if (k < n)
        {
            // Partial selection: keep a min-heap of the k best seen so far. Past the heap, idx[i] is still i, so eight
            // logits can be tested at once: a block wholly below the heap's minimum holds nothing better, and most do.
            for (int i = k / 2 - 1; i >= 0; i--) SiftDown(logits, idx, i, k);
            int j = k;
            while (j < n)
            {
                if (Vector256.IsHardwareAccelerated && j + 8 <= n &&
                    Vector256.LessThanAll(Vector256.Create(logits.Slice(j, 8)), Vector256.Create(logits[idx[0]])))
                {
                    j += 8;
                    continue;
                }
                int end = Math.Min(n, j + 8);
                for (; j < end; j++)
                    if (Better(logits, idx[j], idx[0]))
                    {
                        (idx[0], idx[j]) = (idx[j], idx[0]);
                        SiftDown(logits, idx, 0, k);
                    }
            }
        }
        // Sort the k survivors by (-logit, index): deterministic for equal inputs.
        var sorted = keys.AsSpan(0, k);
        for (int i = 0; i < k; i++) sorted[i] = (-logits[idx[i]], idx[i]);
        sorted.Sort();
        for (int i = 0; i < k; i++) idx[i] = sorted[i].Item2;
    }

    private static bool Better(ReadOnlySpan<float> l, int a, int b) => l[a] > l[b] || (l[a] == l[b] && a < b);

    private static void SiftDown(ReadOnlySpan<float> l, Span<int> h, int i, int n)
    {
        while (true)
        {
            int s = i, a = 2 * i + 1, b = a + 1;
            if (a < n && Better(l, h[s], h[a])) s = a;
            if (b < n && Better(l, h[s], h[b])) s = b;
            if (s == i) return;
            (h[i], h[s]) = (h[s], h[i]);
            i = s;
        }
    }
}
