using System.Runtime.InteropServices;
using Loom.Tensors.Quant;
using Loom.Testing;

namespace Loom.Tensors.Tests;

/// <summary>
/// Loom's ggml block types against ggml itself (fixtures from tools/llamacpp/make_quant_fixtures.sh): dequantize
/// must equal ggml's floats bit for bit; quantize must give ggml's bytes (ggml_quantize_chunk without imatrix);
/// dot products must match ggml's vec_dot against its own quantized activation.
/// </summary>
public class QuantOracleTests
{
    /// <summary>One fixture file: ggml's input, quantized bytes, dequantized floats, activation and dots.</summary>
    internal sealed class Fixture
    {
        public GgmlType Type, DotType;
        public int Rows, Cols;
        public float[] Input = [], Dequantized = [], Activation = [], Dots = [];
        public byte[] Quantized = [], ActivationQuantized = [];

        public static Fixture Load(string name)
        {
            var bytes = File.ReadAllBytes(Fixtures.PathOf(Path.Combine("quant", name + ".lqf")));
            if (bytes[0] != 'L' || bytes[1] != 'Q' || bytes[2] != 'F' || bytes[3] != '1') throw new InvalidDataException(name + ": bad magic");
            var hdr = MemoryMarshal.Cast<byte, uint>(bytes.AsSpan(4, 16));
            var f = new Fixture { Type = (GgmlType)hdr[0], Rows = (int)hdr[1], Cols = (int)hdr[2], DotType = (GgmlType)hdr[3] };
            int o = 20;
            float[] Floats(int n) { var a = MemoryMarshal.Cast<byte, float>(bytes.AsSpan(o, n * 4)).ToArray(); o += n * 4; return a; }
            byte[] Bytes(int n) { var a = bytes.AsSpan(o, n).ToArray(); o += n; return a; }
            int n = f.Rows * f.Cols;
            f.Input = Floats(n);
            f.Quantized = Bytes((int)GgmlTypeLayout.RowBytes(f.Type, f.Cols) * f.Rows);
            f.Dequantized = Floats(n);
            f.Activation = Floats(f.Cols);
            f.ActivationQuantized = Bytes((int)GgmlTypeLayout.RowBytes(f.DotType, f.Cols));
            f.Dots = Floats(f.Rows);
            if (o != bytes.Length) throw new InvalidDataException($"{name}: {bytes.Length - o} trailing bytes");
            return f;
        }
    }

    public static TheoryData<string> AllTypes => new() { "f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q2_K", "q3_K", "q4_K", "q5_K", "q6_K" };

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void DequantizeEqualsGgmlBitForBit(string name)
    {
        var f = Fixture.Load(name);
        var got = new float[f.Rows * f.Cols];
        QuantRows.Dequantize(f.Type, f.Quantized, got);
        for (int i = 0; i < got.Length; i++)
            if (BitConverter.SingleToInt32Bits(got[i]) != BitConverter.SingleToInt32Bits(f.Dequantized[i]))
                Assert.Fail($"{f.Type}: element {i}: got {got[i]:R}, ggml {f.Dequantized[i]:R}");
    }

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void QuantizeEqualsGgmlBytes(string name)
    {
        var f = Fixture.Load(name);
        var got = new byte[f.Quantized.Length];
        QuantRows.Quantize(f.Type, f.Input, got);
        int rowBytes = (int)GgmlTypeLayout.RowBytes(f.Type, f.Cols);
        for (int i = 0; i < got.Length; i++)
            if (got[i] != f.Quantized[i])
                Assert.Fail($"{f.Type}: byte {i} (row {i / rowBytes}, offset {i % rowBytes}): got {got[i]}, ggml {f.Quantized[i]}");
    }

    [Theory]
    [InlineData("q8_0")]
    [InlineData("q6_K")]
    public void ActivationQuantizeEqualsGgml(string name)
    {
        var f = Fixture.Load(name);
        var got = new byte[f.ActivationQuantized.Length];
        QuantRows.Quantize(f.DotType, f.Activation, got);
        Assert.Equal(f.ActivationQuantized, got);
    }

    [Theory]
    [InlineData("q8_0")]
    [InlineData("q4_1")]
    [InlineData("q6_K")]
    public unsafe void ActivationQuantizeMatchesGgmlCpu(string name)
    {
        var f = Fixture.Load(name);
        var got = new byte[f.ActivationQuantized.Length];
        fixed (float* x = f.Activation)
        fixed (byte* y = got)
            ActivationQuant.Quantize(f.DotType, x, y, f.Cols);
        Assert.Equal(f.ActivationQuantized, got);
    }

    public static TheoryData<string> FusedTypes => new() { "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q2_K", "q3_K", "q4_K", "q5_K", "q6_K" };

    /// <summary>Loom's fused kernel on ggml's weight bytes and ggml's quantized activation equals ggml's vec_dot up to float summation order.</summary>
    [Theory]
    [MemberData(nameof(FusedTypes))]
    public unsafe void FusedDotMatchesGgmlVecDot(string name)
    {
        var f = Fixture.Load(name);
        Assert.True(QuantDot.HasFusedKernel(f.Type) || !System.Runtime.Intrinsics.X86.Avx2.IsSupported);
        if (!QuantDot.HasFusedKernel(f.Type)) return; // no AVX2: the float path is checked by MatMulMatchesGgmlVecDot
        int rowBytes = (int)GgmlTypeLayout.RowBytes(f.Type, f.Cols);
        for (int r = 0; r < f.Rows; r++)
        {
            float got;
            fixed (byte* w = f.Quantized)
            fixed (byte* a = f.ActivationQuantized)
                got = QuantDot.Dot(f.Type, w + r * rowBytes, a, f.Cols);
            double tol = 1e-5 * TermMagnitude(f, r) + 1e-6;
            Assert.True(Math.Abs(got - f.Dots[r]) <= tol, $"{f.Type} row {r}: got {got}, ggml {f.Dots[r]} (tolerance {tol:g3})");
        }
    }

    /// <summary>The whole MatMul path (activation quantization included) gives ggml's vec_dot for every type.</summary>
    [Theory]
    [MemberData(nameof(AllTypes))]
    public void MatMulMatchesGgmlVecDot(string name)
    {
        var f = Fixture.Load(name);
        var m = QuantMatrix.FromBytes(f.Type, f.Rows, f.Cols, f.Quantized);
        var y = new float[f.Rows];
        m.MatMul(f.Activation, 1, y);
        for (int r = 0; r < f.Rows; r++)
        {
            double tol = 1e-5 * TermMagnitude(f, r) + 1e-6;
            Assert.True(Math.Abs(y[r] - f.Dots[r]) <= tol, $"{f.Type} row {r}: got {y[r]}, ggml {f.Dots[r]} (tolerance {tol:g3})");
        }
    }

    /// <summary>sum |w_i * x_i| of a row: the scale float rounding of the dot can reach.</summary>
    private static double TermMagnitude(Fixture f, int r)
    {
        double s = 0;
        for (int i = 0; i < f.Cols; i++) s += Math.Abs((double)f.Dequantized[r * f.Cols + i] * f.Activation[i]);
        return s;
    }
}
