using Loom.Models.Inference;
using Loom.Tensors;
using Loom.Tensors.Quant;

namespace Loom.Models.Tests;

/// <summary>
/// A plain, independent forward pass of a <see cref="DecoderModel"/> in double precision for one sequence: every
/// weight dequantized to a dense matrix, full causal attention recomputed per position, RoPE angles from pow().
/// The only f32 step kept on purpose is ggml's f16 GELU table (input and output rounded to f16), which llama.cpp uses.
/// </summary>
internal static class DecoderReference
{
    public static double[][] Logits(DecoderModel m, int[] ids)
    {
        var c = m.Config;
        var w = m.Weights;
        int T = ids.Length, dim = c.Dim;
        var emb = Dense(w.TokenEmbedding);
        var x = new double[T][];
        for (int t = 0; t < T; t++)
        {
            x[t] = (double[])emb[ids[t]].Clone();
            if (c.ScaleEmbedding) for (int i = 0; i < dim; i++) x[t][i] *= Math.Sqrt(dim);
        }
        for (int l = 0; l < c.Layers; l++)
        {
            var lw = w.Layers[l];
            var xn = x.Select(r => RmsNorm(r, lw.AttnNorm, c.NormEps)).ToArray();
            double[][] q, k, v;
            if (lw.Qkv != null)
            {
                var qkv = MatMul(xn, Dense(lw.Qkv));
                q = qkv.Select(r => r[..c.QueryWidth]).ToArray();
                k = qkv.Select(r => r[c.QueryWidth..(c.QueryWidth + c.KeyWidth)]).ToArray();
                v = qkv.Select(r => r[(c.QueryWidth + c.KeyWidth)..]).ToArray();
            }
            else
            {
                q = MatMul(xn, Dense(lw.Q!));
                k = MatMul(xn, Dense(lw.K!));
                v = MatMul(xn, Dense(lw.V!));
            }
            AddBias(q, lw.QBias);
            AddBias(k, lw.KBias);
            AddBias(v, lw.VBias);
            for (int t = 0; t < T; t++)
            {
                for (int h = 0; h < c.Heads; h++) HeadOp(q[t], h, c.HeadDim, lw.QNorm, c, t);
                for (int h = 0; h < c.KvHeads; h++) HeadOp(k[t], h, c.HeadDim, lw.KNorm, c, t);
            }
            bool sliding = c.SlidingWindow > 0 && c.SlidingLayers![l];
            var att = new double[T][];
            for (int t = 0; t < T; t++)
            {
                att[t] = new double[c.Heads * c.ValueDim];
                for (int h = 0; h < c.Heads; h++)
                {
                    int g = h / (c.Heads / c.KvHeads);
                    var s = new double[t + 1];
                    double max = double.NegativeInfinity;
                    for (int j = 0; j <= t; j++)
                    {
                        if (sliding && t - j >= c.SlidingWindow) { s[j] = double.NegativeInfinity; continue; }
                        double d = 0;
                        for (int i = 0; i < c.HeadDim; i++) d += q[t][h * c.HeadDim + i] * k[j][g * c.HeadDim + i];
                        d *= c.AttentionScale;
                        if (c.AttentionSoftCap > 0) d = c.AttentionSoftCap * Math.Tanh(d / c.AttentionSoftCap);
                        s[j] = d;
                        max = Math.Max(max, d);
                    }
                    double z = 0;
                    for (int j = 0; j <= t; j++) { s[j] = Math.Exp(s[j] - max); z += s[j]; }
                    for (int j = 0; j <= t; j++)
                        for (int i = 0; i < c.ValueDim; i++) att[t][h * c.ValueDim + i] += s[j] / z * v[j][g * c.ValueDim + i];
                }
            }
            var o = MatMul(att, Dense(lw.AttnOutput));
            if (lw.PostAttnNorm != null) o = o.Select(r => RmsNorm(r, lw.PostAttnNorm, c.NormEps)).ToArray();
            for (int t = 0; t < T; t++) for (int i = 0; i < dim; i++) x[t][i] += o[t][i];

            xn = x.Select(r => RmsNorm(r, lw.FfnNorm, c.NormEps)).ToArray();
            double[][] gate, up;
            if (lw.GateUp != null)
            {
                var gu = MatMul(xn, Dense(lw.GateUp));
                gate = gu.Select(r => r[..c.FfnDim]).ToArray();
                up = gu.Select(r => r[c.FfnDim..]).ToArray();
            }
            else
            {
                gate = MatMul(xn, Dense(lw.Gate!));
                up = MatMul(xn, Dense(lw.Up!));
            }
            for (int t = 0; t < T; t++)
                for (int i = 0; i < c.FfnDim; i++)
                {
                    double g = gate[t][i];
                    double a = c.Activation == FfnActivation.Silu ? g / (1 + Math.Exp(-g)) : GeluF16Table(g);
                    gate[t][i] = a * up[t][i];
                }
            var f = MatMul(gate, Dense(lw.Down));
            if (lw.PostFfnNorm != null) f = f.Select(r => RmsNorm(r, lw.PostFfnNorm, c.NormEps)).ToArray();
            for (int t = 0; t < T; t++) for (int i = 0; i < dim; i++) x[t][i] += f[t][i];
        }
        var hn = x.Select(r => RmsNorm(r, w.OutputNorm, c.NormEps)).ToArray();
        var logits = MatMul(hn, Dense(w.Output));
        if (c.FinalSoftCap > 0)
            foreach (var r in logits) for (int i = 0; i < r.Length; i++) r[i] = c.FinalSoftCap * Math.Tanh(r[i] / c.FinalSoftCap);
        return logits;
    }

    /// <summary>Optional per-head RMSNorm, then RoPE at position <paramref name="pos"/>.</summary>
    private static void HeadOp(double[] row, int h, int d, float[]? norm, DecoderConfig c, int pos)
    {
        var head = row.AsSpan(h * d, d);
        if (norm != null)
        {
            var n = RmsNorm(head.ToArray(), norm, c.NormEps);
            n.CopyTo(head);
        }
        int half = c.RopeDim / 2;
        for (int i = 0; i < half; i++)
        {
            double freq = Math.Pow(c.RopeTheta, -2.0 * i / c.RopeDim) / (c.RopeFreqFactors?[i] ?? 1f) * c.RopeFreqScale;
            double a = pos * freq, cos = Math.Cos(a), sin = Math.Sin(a);
            int i0 = c.RopeStyle == RopeStyle.Normal ? 2 * i : i, i1 = c.RopeStyle == RopeStyle.Normal ? 2 * i + 1 : i + half;
            double x0 = head[i0], x1 = head[i1];
            head[i0] = x0 * cos - x1 * sin;
            head[i1] = x0 * sin + x1 * cos;
        }
    }

    private static double GeluF16Table(double x)
    {
        if (x <= -10) return 0;
        if (x >= 10) return x;
        double h = (double)(Half)x;
        return (double)(Half)(0.5 * h * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * h * (1 + 0.044715 * h * h))));
    }

    private static double[] RmsNorm(double[] x, float[] w, float eps)
    {
        double ms = x.Sum(v => v * v) / x.Length;
        double s = 1 / Math.Sqrt(ms + eps);
        return x.Select((v, i) => v * s * w[i]).ToArray();
    }

    private static void AddBias(double[][] x, float[]? b)
    {
        if (b == null) return;
        foreach (var r in x) for (int i = 0; i < b.Length; i++) r[i] += b[i];
    }

    /// <summary>y (T, rows) = x (T, cols) · Wᵀ.</summary>
    private static double[][] MatMul(double[][] x, double[][] w) =>
        x.Select(r => w.Select(wr => { double s = 0; for (int i = 0; i < r.Length; i++) s += r[i] * wr[i]; return s; }).ToArray()).ToArray();

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<QuantMatrix, double[][]> Cache = new();

    private static double[][] Dense(QuantMatrix m) => Cache.GetValue(m, mm =>
    {
        var rows = new double[mm.Rows][];
        var f = new float[mm.Cols];
        for (int r = 0; r < mm.Rows; r++)
        {
            mm.DequantizeRow(r, f);
            rows[r] = f.Select(v => (double)v).ToArray();
        }
        return rows;
    });
}
