using Loom.Tensors.Quant;

namespace Loom.Tensors.Tests;

/// <summary>
/// QuantMatrix.MatMul (fused integer kernels, 2x4 tiles, tails, threads, the prefill SGEMM) against a plain double-precision loop
/// over the dequantized weights and the activation rounded the same way (through Q8_0 / Q8_K / f16 ...).
/// Tolerance: 2e-5 of sum |w x| per output, i.e. float summation-order error only.
/// </summary>
public class QuantMatMulTests
{
    public static TheoryData<GgmlType> Types => new()
    {
        GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1,
        GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K,
    };

    [Theory]
    [MemberData(nameof(Types))]
    public void MatMulMatchesReferenceOnRandomShapes(GgmlType type) => CheckRandomShapes(type);

    /// <summary>The portable path (decode rows to f32, then dot or SGEMM) that machines without AVX2 take.</summary>
    [Theory]
    [MemberData(nameof(Types))]
    public void DecodePathMatchesReferenceOnRandomShapes(GgmlType type)
    {
        QuantMatrix.ForceDecodePath = true;
        try { CheckRandomShapes(type); }
        finally { QuantMatrix.ForceDecodePath = false; }
    }

    private static void CheckRandomShapes(GgmlType type)
    {
        var rng = new Random(1234 + (int)type);
        (int rows, int cols, int tokens)[] shapes = [(1, 256, 1), (5, 512, 1), (37, 256, 3), (33, 768, 4), (18, 512, 9), (64, 1024, 1), (40, 256, 13),
            (37, 512, 33), (70, 256, 40),   // from 32 tokens on: the SGEMM with W decoded while packed
            (48, 512, 20), (24, 2560, 35), (9, 256, 7), (11, 768, 16)];
        if (GgmlTypeLayout.BlockElements(type) == 1) shapes = [.. shapes, (9, 260, 7), (5, 30, 12)];   // float rows: vector tails   // rows a multiple of 8: Q4_0 interleaved by eight (decode, tiles and SGEMM)
        foreach (var (rows, cols, tokens) in shapes)
        {
            var w = RandomFloats(rng, rows * cols);
            var encoded = new byte[GgmlTypeLayout.RowBytes(type, cols) * rows];
            QuantRows.Quantize(type, w, encoded);
            var wq = new float[rows * cols];
            QuantRows.Dequantize(type, encoded, wq);
            var x = RandomFloats(rng, tokens * cols);
            var xr = RoundLikeActivation(type, x, tokens, cols);

            var y = new float[tokens * rows];
            Array.Fill(y, float.NaN);
            QuantMatrix.FromBytes(type, rows, cols, encoded).MatMul(x, tokens, y);
            for (int t = 0; t < tokens; t++)
                for (int r = 0; r < rows; r++)
                {
                    double s = 0, mag = 0;
                    for (int i = 0; i < cols; i++)
                    {
                        double p = (double)wq[r * cols + i] * xr[t * cols + i];
                        s += p; mag += Math.Abs(p);
                    }
                    double tol = 2e-5 * mag + 1e-6 + Q8_1SumRounding(type, wq, xr, r, t, cols);
                    float got = y[t * rows + r];
                    Assert.True(Math.Abs(got - s) <= tol, $"{type} ({rows}x{cols}, T={tokens}) y[{t},{r}] = {got}, reference {s} (tolerance {tol:g3})");
                }
        }
    }

    /// <summary>
    /// Q4_0 with rows a multiple of 8 runs on the interleaved copy with llama.cpp's repacked-kernel arithmetic
    /// (ggml_gemv_q4_0_8x8_q8_0): per row, acc = fma((float)Σ(q − 8)·a, d_w·d_a, acc) block after block. Checked for
    /// exact equality against that formula written out in scalar code, for decode and for the 8-31 token range.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(12)]
    public void InterleavedQ4_0MatchesLlamaCppRepackArithmetic(int tokens)
    {
        const int rows = 40, cols = 768, nb = cols / 32;
        var rng = new Random(77 + tokens);
        long rowBytes = GgmlTypeLayout.RowBytes(GgmlType.Q4_0, cols);
        var encoded = new byte[rowBytes * rows];
        QuantRows.Quantize(GgmlType.Q4_0, RandomFloats(rng, rows * cols), encoded);
        // A few extreme blocks: all codes at 0 or 15 against activations at +-127.
        for (int i = 2; i < 18; i++) encoded[i] = 0xFF;
        for (int i = 20; i < 36; i++) encoded[i] = 0x00;
        var x = RandomFloats(rng, tokens * cols);
        var y = new float[tokens * rows];
        var m = QuantMatrix.FromBytes(GgmlType.Q4_0, rows, cols, encoded);
        m.MatMul(x, tokens, y);

        var act = new byte[GgmlTypeLayout.RowBytes(GgmlType.Q8_0, cols)];
        for (int t = 0; t < tokens; t++)
        {
            QuantRows.Quantize(GgmlType.Q8_0, x.AsSpan(t * cols, cols), act);
            for (int r = 0; r < rows; r++)
            {
                float acc = 0;
                for (int b = 0; b < nb; b++)
                {
                    var w = encoded.AsSpan((int)(r * rowBytes + b * 18), 18);
                    var a = act.AsSpan(b * 34, 34);
                    int isum = 0;
                    for (int j = 0; j < 16; j++)
                    {
                        isum += ((w[2 + j] & 0x0F) - 8) * (sbyte)a[2 + j];
                        isum += ((w[2 + j] >> 4) - 8) * (sbyte)a[2 + 16 + j];
                    }
                    float dw = (float)BitConverter.ToHalf(w[..2]), da = (float)BitConverter.ToHalf(a[..2]);
                    acc = MathF.FusedMultiplyAdd(isum, dw * da, acc);
                }
                Assert.True(acc == y[t * rows + r], $"T={tokens} y[{t},{r}] = {y[t * rows + r]:R}, llama.cpp's repack arithmetic gives {acc:R}");
            }
        }
        // Rows read back for embeddings and export are the original bytes, not the interleaved copy.
        var row = new float[cols];
        var expected = new float[cols];
        m.DequantizeRow(13, row);
        QuantRows.Dequantize(GgmlType.Q4_0, encoded.AsSpan((int)(13 * rowBytes), (int)rowBytes), expected);
        Assert.Equal(expected, row);
    }

    /// <summary>
    /// Q4_K with rows a multiple of 8 runs on the interleaved copy with the arithmetic of llama.cpp's repacked kernels:
    /// exact integer sums, then fma(isum, d_w·d_a, acc) and fma(imin, dmin_w·d_a, accMin), y = acc − accMin, rounded per
    /// 64-element chunk for whole fours of tokens (ggml_gemm_q4_K_8x8_q8_K) and per super-block for the rest
    /// (ggml_gemv_q4_K_8x8_q8_K). Checked for exact equality against that written out in scalar code; 40 tokens cover
    /// the prefill sizes, which llama.cpp also sends through these kernels.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(6)]
    [InlineData(12)]
    [InlineData(40)]
    public void InterleavedQ4_KMatchesLlamaCppRepackArithmetic(int tokens)
    {
        const int rows = 24, cols = 512, nb = cols / 256;
        var rng = new Random(91 + tokens);
        long rowBytes = GgmlTypeLayout.RowBytes(GgmlType.Q4_K, cols);
        var encoded = new byte[rowBytes * rows];
        QuantRows.Quantize(GgmlType.Q4_K, RandomFloats(rng, rows * cols), encoded);
        // Extreme codes in one chunk: all nibbles 15 against activations near +-127.
        for (int i = 16; i < 48; i++) encoded[i] = 0xFF;
        var x = RandomFloats(rng, tokens * cols);
        var y = new float[tokens * rows];
        var m = QuantMatrix.FromBytes(GgmlType.Q4_K, rows, cols, encoded);
        m.MatMul(x, tokens, y);

        var act = new byte[GgmlTypeLayout.RowBytes(GgmlType.Q8_K, cols)];
        for (int t = 0; t < tokens; t++)
        {
            QuantRows.Quantize(GgmlType.Q8_K, x.AsSpan(t * cols, cols), act);
            bool perChunk = t < (tokens & ~3);
            for (int r = 0; r < rows; r++)
            {
                float acc = 0, accMin = 0;
                for (int b = 0; b < nb; b++)
                {
                    var w = encoded.AsSpan((int)(r * rowBytes + b * 144), 144);
                    var a = act.AsSpan(b * 292, 292);
                    float da = BitConverter.ToSingle(a[..4]);
                    float scale = (float)BitConverter.ToHalf(w[..2]) * da, scaleMin = (float)BitConverter.ToHalf(w[2..4]) * da;
                    int isum = 0, imin = 0;
                    for (int c = 0; c < 4; c++)
                    {
                        for (int h = 0; h < 2; h++)
                        {
                            var (sc, mn) = ScaleMinK4(w.Slice(4, 12), 2 * c + h);
                            int dot = 0, sum = 0;
                            for (int i = 0; i < 32; i++)
                            {
                                int q = h == 0 ? w[16 + 32 * c + i] & 0x0F : w[16 + 32 * c + i] >> 4;
                                int qa = (sbyte)a[4 + 64 * c + 32 * h + i];
                                dot += q * qa;
                                sum += qa;
                            }
                            isum += sc * dot;
                            imin += mn * sum;
                        }
                        if (perChunk)
                        {
                            acc = MathF.FusedMultiplyAdd(isum, scale, acc);
                            accMin = MathF.FusedMultiplyAdd(imin, scaleMin, accMin);
                            isum = imin = 0;
                        }
                    }
                    if (!perChunk)
                    {
                        acc = MathF.FusedMultiplyAdd(isum, scale, acc);
                        accMin = MathF.FusedMultiplyAdd(imin, scaleMin, accMin);
                    }
                }
                float expected = acc - accMin;
                Assert.True(expected == y[t * rows + r], $"T={tokens} y[{t},{r}] = {y[t * rows + r]:R}, llama.cpp's repack arithmetic gives {expected:R}");
            }
        }
        // Rows read back for embeddings and export are the original bytes, not the interleaved copy.
        var row = new float[cols];
        var expectedRow = new float[cols];
        m.DequantizeRow(7, row);
        QuantRows.Dequantize(GgmlType.Q4_K, encoded.AsSpan((int)(7 * rowBytes), (int)rowBytes), expectedRow);
        Assert.Equal(expectedRow, row);
    }

    /// <summary>get_scale_min_k4: the 6-bit scale and min of sub-block j from a Q4_K block's 12 packed bytes.</summary>
    private static (int Scale, int Min) ScaleMinK4(ReadOnlySpan<byte> q, int j)
        => j < 4 ? (q[j] & 63, q[j + 4] & 63)
                 : ((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4));

    /// <summary>
    /// Q4_K / Q6_K rows that are not repacked (here 41 rows) take a four-token tile below 32 tokens, which must give
    /// each token exactly what the one-token kernel (ggml_vec_dot_q4_K_q8_K's order, mins in their own accumulator) gives.
    /// A token embedding keeps its row layout whatever its shape, so the same holds for it.
    /// </summary>
    [Theory]
    [InlineData(GgmlType.Q4_K, 41, false)]
    [InlineData(GgmlType.Q6_K, 41, false)]
    [InlineData(GgmlType.Q4_K, 40, true)]
    public void KQuantTilesEqualTheOneTokenKernel(GgmlType type, int rows, bool keepRowLayout)
    {
        const int cols = 768, tokens = 9;
        var rng = new Random(5 + rows);
        var encoded = new byte[GgmlTypeLayout.RowBytes(type, cols) * rows];
        QuantRows.Quantize(type, RandomFloats(rng, rows * cols), encoded);
        var x = RandomFloats(rng, tokens * cols);
        var m = QuantMatrix.FromBytes(type, rows, cols, encoded);
        m.KeepRowLayout = keepRowLayout;
        var y = new float[tokens * rows];
        m.MatMul(x, tokens, y);
        var one = new float[rows];
        for (int t = 0; t < tokens; t++)
        {
            m.MatMul(x.AsSpan(t * cols, cols), 1, one);
            for (int r = 0; r < rows; r++)
                Assert.True(one[r] == y[t * rows + r], $"{type} y[{t},{r}] = {y[t * rows + r]:R} in a tile, {one[r]:R} alone");
        }
    }

    /// <summary>
    /// f16/bf16 weights follow llama.cpp's routing and orders exactly: from two tokens with rows % 4 == 0, tinyBLAS
    /// (one 8-lane FMA accumulator per output, hsum_float_8); otherwise ggml_vec_dot_f16/bf16 (four accumulators over
    /// 32-element steps, their own reductions, a double tail). Checked for equality against both written out in scalar code.
    /// </summary>
    [Theory]
    [InlineData(GgmlType.BF16, 40, 256, 1)]
    [InlineData(GgmlType.BF16, 40, 264, 7)]
    [InlineData(GgmlType.BF16, 41, 256, 6)]
    [InlineData(GgmlType.BF16, 36, 520, 40)]
    [InlineData(GgmlType.F16, 40, 256, 1)]
    [InlineData(GgmlType.F16, 40, 264, 7)]
    [InlineData(GgmlType.F16, 42, 264, 5)]
    [InlineData(GgmlType.F16, 36, 520, 40)]
    public void HalfWeightsMatchLlamaCppOrders(GgmlType type, int rows, int cols, int tokens)
    {
        var rng = new Random(rows * 31 + cols + tokens);
        var encoded = new byte[GgmlTypeLayout.RowBytes(type, cols) * rows];
        QuantRows.Quantize(type, RandomFloats(rng, rows * cols), encoded);
        var w = new float[rows * cols];
        QuantRows.Dequantize(type, encoded, w);
        var x = RandomFloats(rng, tokens * cols);
        var xr = RoundLikeActivation(type, x, tokens, cols);
        var y = new float[tokens * rows];
        QuantMatrix.FromBytes(type, rows, cols, encoded).MatMul(x, tokens, y);
        bool tinyBlas = tokens >= 2 && rows % 4 == 0 && cols % 8 == 0;
        for (int t = 0; t < tokens; t++)
            for (int r = 0; r < rows; r++)
            {
                var wr = w.AsSpan(r * cols, cols);
                var xt = xr.AsSpan(t * cols, cols);
                float expected = tinyBlas ? TinyBlasDot(wr, xt) : VecDot(wr, xt, type == GgmlType.BF16);
                Assert.True(expected == y[t * rows + r], $"{type} {rows}x{cols} T={tokens} y[{t},{r}] = {y[t * rows + r]:R}, llama.cpp's order gives {expected:R}");
            }
    }

    private static float TinyBlasDot(ReadOnlySpan<float> w, ReadOnlySpan<float> x)
    {
        var a = new float[8];
        for (int i = 0; i < w.Length; i += 8)
            for (int l = 0; l < 8; l++) a[l] = MathF.FusedMultiplyAdd(w[i + l], x[i + l], a[l]);
        return ((a[4] + a[0]) + (a[6] + a[2])) + ((a[5] + a[1]) + (a[7] + a[3]));
    }

    private static float VecDot(ReadOnlySpan<float> w, ReadOnlySpan<float> x, bool bf16)
    {
        var a = new float[32];
        int np = w.Length & ~31;
        for (int i = 0; i < np; i += 32)
            for (int l = 0; l < 32; l++) a[l] = MathF.FusedMultiplyAdd(w[i + l], x[i + l], a[l]);
        var c = new float[8];
        for (int l = 0; l < 8; l++) c[l] = (a[l] + a[16 + l]) + (a[8 + l] + a[24 + l]);
        double s = bf16
            ? ((c[4] + c[0]) + (c[6] + c[2])) + ((c[5] + c[1]) + (c[7] + c[3]))
            : ((c[0] + c[4]) + (c[1] + c[5])) + ((c[2] + c[6]) + (c[3] + c[7]));
        for (int i = np; i < w.Length; i++) s += w[i] * x[i];
        return (float)s;
    }

    [Fact]
    public void MatMulRejectsShortBuffers()
    {
        var m = QuantMatrix.FromBytes(GgmlType.Q8_0, 2, 32, new byte[68]);
        Assert.Throws<ArgumentException>(() => m.MatMul(new float[31], 1, new float[2]));
        Assert.Throws<ArgumentException>(() => m.MatMul(new float[32], 1, new float[1]));
    }

    /// <summary>
    /// Q4_1/Q5_1 multiply the block minimum by Q8_1's block sum d * sum(q), which ggml stores as f16: allow its
    /// rounding, 2^-11 of |min * block sum| per block.
    /// </summary>
    private static double Q8_1SumRounding(GgmlType type, float[] wq, float[] xr, int r, int t, int cols)
    {
        if (type is not (GgmlType.Q4_1 or GgmlType.Q5_1)) return 0;
        double tol = 0;
        for (int b = 0; b < cols; b += 32)
        {
            double min = double.MaxValue, sum = 0;
            for (int i = b; i < b + 32; i++) { min = Math.Min(min, wq[r * cols + i]); sum += xr[t * cols + i]; }
            tol += Math.Abs(min * sum) * (1.0 / 2048);
        }
        return tol;
    }

    private static float[] RandomFloats(Random rng, int n)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1) * (i % 17 == 3 ? 4f : 1f);
        return a;
    }

    /// <summary>x rounded the way MatMul (and llama.cpp) rounds activations for this weight type.</summary>
    private static float[] RoundLikeActivation(GgmlType type, float[] x, int tokens, int cols)
    {
        GgmlType act = type switch
        {
            GgmlType.F32 => GgmlType.F32,
            GgmlType.F16 => GgmlType.F16,
            GgmlType.BF16 => GgmlType.BF16,
            GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1 or GgmlType.Q8_0 => GgmlType.Q8_0,
            _ => GgmlType.Q8_K,
        };
        if (act == GgmlType.F32) return x;
        var r = new float[x.Length];
        var buf = new byte[GgmlTypeLayout.RowBytes(act, cols)];
        for (int t = 0; t < tokens; t++)
        {
            QuantRows.Quantize(act, x.AsSpan(t * cols, cols), buf);
            QuantRows.Dequantize(act, buf, r.AsSpan(t * cols, cols));
        }
        return r;
    }
}
