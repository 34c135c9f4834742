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
}
