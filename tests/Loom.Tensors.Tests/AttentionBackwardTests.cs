using Loom.Tensors;

namespace Loom.Tensors.Tests;

/// <summary>
/// The fused and the two-pass attention backward kernels against a direct double-precision softmax-attention
/// backward, on multi-tile, grouped-query, causal (S &gt; T too) and non-causal shapes.
/// </summary>
public class AttentionBackwardTests
{
    [Theory]
    [InlineData(2, 4, 2, 150, 150, 32, true)]
    [InlineData(1, 2, 1, 70, 150, 16, true)]
    [InlineData(2, 2, 2, 64, 64, 32, false)]
    [InlineData(1, 3, 3, 5, 9, 8, true)]
    [InlineData(3, 4, 4, 64, 64, 32, true)]
    public void FusedAndTwoPassMatchReference(int b, int hq, int hkv, int t, int s, int d, bool causal)
    {
        using var q = Tensor.RandNormal(new Rng(1), 0, 1, b, hq, t, d);
        using var k = Tensor.RandNormal(new Rng(2), 0, 1, b, hkv, s, d);
        using var v = Tensor.RandNormal(new Rng(3), 0, 1, b, hkv, s, d);
        using var go = Tensor.RandNormal(new Rng(4), 0, 1, b, hq, t, d);
        using var o = Ops.AttentionWithLse(q, k, v, causal, null, out var lse);
        using var lseOwned = lse;
        Reference(q.ToArray(), k.ToArray(), v.ToArray(), go.ToArray(), b, hq, hkv, t, s, d, causal,
            out var dqRef, out var dkRef, out var dvRef);
        foreach (bool fused in new[] { true, false })
        {
            Ops.AttentionBackward(q, k, v, o, lse, go, causal, null, fused, out var dq, out var dk, out var dv);
            using (dq) using (dk) using (dv)
            {
                Close(dqRef, dq.ToArray(), $"dq fused={fused}");
                Close(dkRef, dk.ToArray(), $"dk fused={fused}");
                Close(dvRef, dv.ToArray(), $"dv fused={fused}");
            }
        }
    }

    private static void Close(double[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = 1;
        foreach (double e in expected) scale = Math.Max(scale, Math.Abs(e));
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 2e-5 * scale, $"{what} element {i}: {actual[i]} vs {expected[i]}");
    }

    /// <summary>Row by row: p = softmax(scale q K^T) over visible keys, dV += p dO, dS = p (dO V^T - rowsum(p dO V^T)), dQ = scale dS K, dK += scale dS^T q.</summary>
    private static void Reference(float[] q, float[] k, float[] v, float[] go, int b, int hq, int hkv, int t, int s, int d, bool causal,
        out double[] dq, out double[] dk, out double[] dv)
    {
        dq = new double[q.Length];
        dk = new double[k.Length];
        dv = new double[v.Length];
        double scale = 1 / Math.Sqrt(d);
        var p = new double[s];
        var dp = new double[s];
        for (int bi = 0; bi < b; bi++)
        for (int h = 0; h < hq; h++)
        {
            int hk = h / (hq / hkv);
            long qBase = ((long)bi * hq + h) * t * d, kBase = ((long)bi * hkv + hk) * s * d;
            for (int i = 0; i < t; i++)
            {
                int keys = causal ? Math.Min(s, i + s - t + 1) : s;
                double max = double.NegativeInfinity;
                for (int j = 0; j < keys; j++)
                {
                    double dot = 0;
                    for (int c = 0; c < d; c++) dot += (double)q[qBase + i * d + c] * k[kBase + j * d + c];
                    p[j] = dot * scale;
                    max = Math.Max(max, p[j]);
                }
                double sum = 0;
                for (int j = 0; j < keys; j++) sum += p[j] = Math.Exp(p[j] - max);
                double rowDot = 0;
                for (int j = 0; j < keys; j++)
                {
                    p[j] /= sum;
                    double dot = 0;
                    for (int c = 0; c < d; c++) dot += (double)go[qBase + i * d + c] * v[kBase + j * d + c];
                    dp[j] = dot;
                    rowDot += p[j] * dot;
                }
                for (int j = 0; j < keys; j++)
                {
                    double ds = p[j] * (dp[j] - rowDot);
                    for (int c = 0; c < d; c++)
                    {
                        dv[kBase + j * d + c] += p[j] * go[qBase + i * d + c];
                        dq[qBase + i * d + c] += scale * ds * k[kBase + j * d + c];
                        dk[kBase + j * d + c] += scale * ds * q[qBase + i * d + c];
                    }
                }
            }
        }
    }
}
