using System.Runtime.InteropServices;
using Loom.Tensors.Quant;

namespace Loom.Tensors.Tests;

/// <summary>
/// The batch-invariant f32 kernel: every output equals a plain scalar loop written in the documented order (eight
/// lanes over k, ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)), then the tail) bit for bit, is within f32
/// rounding of a double-precision product, and a token's outputs do not change with the other tokens of the call.
/// </summary>
public class InvariantF32MatMulTests
{
    private static QuantMatrix Matrix(float[] w, int rows, int cols) => QuantMatrix.FromBytes(GgmlType.F32, rows, cols, MemoryMarshal.AsBytes(w.AsSpan()).ToArray());

    private static float[] RandomFloats(Random rng, int n)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }

    /// <summary>The documented order, one output at a time, with no vectors.</summary>
    private static float Reference(float[] w, int r, float[] x, int t, int k)
    {
        var lane = new float[8];
        int i = 0;
        for (; i + 8 <= k; i += 8)
            for (int j = 0; j < 8; j++) lane[j] = MathF.FusedMultiplyAdd(w[r * k + i + j], x[t * k + i + j], lane[j]);
        float s = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
        for (; i < k; i++) s = MathF.FusedMultiplyAdd(w[r * k + i], x[t * k + i], s);
        return s;
    }

    [Theory]
    [InlineData(1, 64, 256)]
    [InlineData(3, 27, 256)]
    [InlineData(4, 130, 688)]
    [InlineData(8, 256, 256)]
    [InlineData(7, 40, 13)]     // a K tail in every tile
    [InlineData(9, 9, 5)]       // K below one vector
    [InlineData(37, 70, 100)]   // more than one token block, odd rows
    [InlineData(8, 301, 260)]   // several pool chunks, rows left over in the last, a K tail; tiles prefetch their successors
    [InlineData(1, 301, 260)]
    public void EqualsTheScalarOrderAndADoubleProduct(int tokens, int rows, int cols)
    {
        var rng = new Random(tokens * 1000 + rows + cols);
        var w = RandomFloats(rng, rows * cols);
        var x = RandomFloats(rng, tokens * cols);
        var y = new float[tokens * rows];
        InvariantF32MatMul.MatMul(x, tokens, Matrix(w, rows, cols), y);
        for (int t = 0; t < tokens; t++)
            for (int r = 0; r < rows; r++)
            {
                Assert.Equal(Reference(w, r, x, t, cols), y[t * rows + r]);
                double exact = 0, mag = 0;
                for (int i = 0; i < cols; i++) { exact += (double)w[r * cols + i] * x[t * cols + i]; mag += Math.Abs((double)w[r * cols + i] * x[t * cols + i]); }
                Assert.True(Math.Abs(y[t * rows + r] - exact) <= 1e-6 * mag + 1e-30, $"t {t} r {r}: {y[t * rows + r]} vs {exact}");
            }
    }

    [Fact]
    public void ATokensOutputsDoNotDependOnTheOtherTokens()
    {
        const int rows = 136, cols = 688;
        var rng = new Random(5);
        var w = Matrix(RandomFloats(rng, rows * cols), rows, cols);
        var x = RandomFloats(rng, 40 * cols);
        var all = new float[40 * rows];
        InvariantF32MatMul.MatMul(x, 40, w, all);
        foreach (int tokens in new[] { 1, 2, 3, 4, 5, 8, 11, 16, 17, 33 })
            for (int first = 0; first + tokens <= 40; first += 7)
            {
                var y = new float[tokens * rows];
                InvariantF32MatMul.MatMul(x.AsSpan(first * cols, tokens * cols), tokens, w, y);
                Assert.Equal(all.AsSpan(first * rows, tokens * rows).ToArray(), y);
            }
    }

    [Fact]
    public void SeveralMatricesInOneJobEqualSeparateCalls()
    {
        const int cols = 256, tokens = 6;
        var rng = new Random(9);
        var w0 = Matrix(RandomFloats(rng, 256 * cols), 256, cols);
        var w1 = Matrix(RandomFloats(rng, 72 * cols), 72, cols);
        var w2 = Matrix(RandomFloats(rng, 9 * cols), 9, cols);
        var x = RandomFloats(rng, tokens * cols);
        float[] Single(QuantMatrix w) { var y = new float[tokens * w.Rows]; InvariantF32MatMul.MatMul(x, tokens, w, y); return y; }
        float[] y0 = new float[tokens * 256], y1 = new float[tokens * 72], y2 = new float[tokens * 9];
        InvariantF32MatMul.MatMul(x, tokens, w0, y0, w1, y1, w2, y2);
        Assert.Equal(Single(w0), y0);
        Assert.Equal(Single(w1), y1);
        Assert.Equal(Single(w2), y2);
    }
}
