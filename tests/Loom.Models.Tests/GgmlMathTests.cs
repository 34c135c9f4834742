using System.Text.Json;
using Loom.Models.Inference;
using Loom.Testing;

namespace Loom.Models.Tests;

/// <summary>
/// GgmlMath against llama.cpp's own numbers: ggml-cpu's SwiGLU (ggml_v_silu over ggml_v_expf, times up) recorded by
/// tools/llamacpp/dump_tensors.c from the qwen3 Q8_0 parity model, compared bit for bit. A libm expf or
/// TensorPrimitives.Sigmoid differs from it in the last bit on some of these values, which is enough to flip an
/// activation-quantization step downstream.
/// </summary>
public class GgmlMathTests
{
    [Fact]
    public void SwiGluMatchesLlamaCppBitForBit()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.PathOf("llamacpp/ggml_swiglu.json")));
        var root = doc.RootElement;
        float[] Read(string name) => root.GetProperty(name).EnumerateArray().Select(e => BitConverter.UInt32BitsToSingle(e.GetUInt32())).ToArray();
        float[] gate = Read("gate"), up = Read("up"), expected = Read("swiglu");
        Assert.Equal(gate.Length, expected.Length);
        int differ = 0, libmDiffer = 0;
        for (int i = 0; i < gate.Length; i++)
        {
            if (BitConverter.SingleToUInt32Bits(GgmlMath.Silu(gate[i]) * up[i]) != BitConverter.SingleToUInt32Bits(expected[i])) differ++;
            float libm = gate[i] / (1f + MathF.Exp(-gate[i])) * up[i];
            if (BitConverter.SingleToUInt32Bits(libm) != BitConverter.SingleToUInt32Bits(expected[i])) libmDiffer++;
        }
        Assert.Equal(0, differ);
        // The vectorised SwiGLU (eight lanes as ggml_v_silu) gives the same bits.
        var vec = (float[])gate.Clone();
        GgmlMath.SwiGlu(vec, up);
        for (int i = 0; i < gate.Length; i++) Assert.Equal(BitConverter.SingleToUInt32Bits(expected[i]), BitConverter.SingleToUInt32Bits(vec[i]));
        Assert.True(libmDiffer > 0, "the recorded values no longer tell ggml_v_expf from libm's expf");
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(-150f)]
    [InlineData(float.NegativeInfinity)]
    [InlineData(-90f)]
    [InlineData(88f)]
    public void ExpHandlesTheRangeEnds(float x)
    {
        float e = GgmlMath.Exp(x);
        if (x == 0) Assert.Equal(1f, e);
        else if (x <= -150f) Assert.Equal(0f, e);
        else Assert.True(MathF.Abs(e / MathF.Exp(x) - 1) < 1e-5, $"exp({x}) = {e}");
    }

    [Fact]
    public void HSum8AddsInGgmlOrder()
    {
        // hsum_float_8: ((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7)); a sequential sum rounds differently here.
        float[] a = [1e8f, 1f, -1e8f, 1f, 1f, 1f, 1f, 1f];
        Assert.Equal(((1e8f + 1f) + (-1e8f + 1f)) + ((1f + 1f) + (1f + 1f)), GgmlMath.HSum8(a));
    }
}
