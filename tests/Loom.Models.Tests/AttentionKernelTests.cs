using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Loom.Models.Inference;

namespace Loom.Models.Tests;

/// <summary>
/// The f32 attention's vector pieces give, bit for bit, what the per-cell order they replace gives: eight keys' dot
/// products reduced together equal eight DotVecF32 calls, and P·V with its lanes in registers equals cell j adding
/// into lane j % 8 in memory, for windows [lo, p] that start and end anywhere inside a group of eight.
/// </summary>
public unsafe class AttentionKernelTests
{
    private static float[] RandomFloats(Random rng, int n)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }

    [Theory]
    [InlineData(32)]
    [InlineData(64)]
    [InlineData(128)]
    public void EightDotsAtOnceEqualEightSingleDots(int d)
    {
        if (!Avx2.IsSupported || !Fma.IsSupported) return;   // the vector path only runs on AVX2 + FMA machines
        var rng = new Random(d);
        var keys = RandomFloats(rng, 8 * d);
        var q = RandomFloats(rng, d);
        fixed (float* k = keys, qp = q)
        {
            var got = DecoderBatch.ReduceVecDot8(DecoderBatch.DotPairs(k, qp, d), DecoderBatch.DotPairs(k + d, qp, d),
                DecoderBatch.DotPairs(k + 2 * d, qp, d), DecoderBatch.DotPairs(k + 3 * d, qp, d), DecoderBatch.DotPairs(k + 4 * d, qp, d),
                DecoderBatch.DotPairs(k + 5 * d, qp, d), DecoderBatch.DotPairs(k + 6 * d, qp, d), DecoderBatch.DotPairs(k + 7 * d, qp, d));
            for (int j = 0; j < 8; j++) Assert.Equal(DecoderBatch.DotVecF32(k + j * d, qp, d), got.GetElement(j));
        }
    }

    [Theory]
    [InlineData(0, 0, 32)]
    [InlineData(0, 7, 32)]
    [InlineData(0, 8, 32)]
    [InlineData(3, 5, 32)]     // one group, cut at both ends
    [InlineData(5, 70, 32)]    // a sliding window starting mid-group
    [InlineData(16, 39, 64)]
    [InlineData(9, 250, 16)]
    public void RegisterLanesEqualLanesInMemory(int lo, int p, int dv)
    {
        if (!Avx2.IsSupported || !Fma.IsSupported) return;
        var rng = new Random(lo * 1000 + p);
        // The cache holds exactly p + 1 cells, so a read past the window's last cell would fall outside the array.
        var values = RandomFloats(rng, (p + 1) * dv);
        var weights = RandomFloats(rng, p + 1);
        float inv = 1f / 3.7f;
        // The order it replaces: lanes in memory, cell j into lane j % 8, then ((l4 + l0) + (l6 + l2)) + ((l5 + l1) + (l7 + l3)).
        var lanes = new float[8 * dv];
        for (int j = lo; j <= p; j++)
        {
            float w = weights[j] * inv;
            for (int e = 0; e < dv; e++) lanes[(j & 7) * dv + e] = MathF.FusedMultiplyAdd(values[j * dv + e], w, lanes[(j & 7) * dv + e]);
        }
        var expected = new float[dv];
        for (int e = 0; e < dv; e++)
        {
            float t0 = lanes[4 * dv + e] + lanes[e], t1 = lanes[5 * dv + e] + lanes[dv + e];
            float t2 = lanes[6 * dv + e] + lanes[2 * dv + e], t3 = lanes[7 * dv + e] + lanes[3 * dv + e];
            expected[e] = (t0 + t2) + (t1 + t3);
        }
        var scores = (float[])weights.Clone();
        var y = new float[dv];
        fixed (float* s = scores, v = values, yp = y) DecoderBatch.PValues8(s, inv, v, dv, lo, p, yp);
        Assert.Equal(expected, y);
    }
}
