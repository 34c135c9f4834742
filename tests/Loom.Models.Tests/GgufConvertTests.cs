using Loom.Models.Gguf;
using Loom.Models.Inference;
using Loom.Tensors;
using Loom.Tensors.Quant;
using Loom.Testing;

namespace Loom.Models.Tests;

public sealed class GgufConvertTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("loom-convert-").FullName;
    private static readonly string DefaultModel = Path.Combine(Fixtures.RepoRoot, "models", "default");
    private const string Text = "Once upon a time, the little robot said: \"Hello, world!\" 123";

    public void Dispose() => Directory.Delete(_dir, true);

    private static double Nmse(float[] a, float[] b)
    {
        double num = 0, den = 0;
        for (int i = 0; i < a.Length; i++) { num += (a[i] - b[i]) * (double)(a[i] - b[i]); den += b[i] * (double)b[i]; }
        return num / den;
    }

    [Fact]
    public void PermutationRoundTripsAndTurnsRotateHalfIntoAdjacentPairs()
    {
        // One head of 4 dims, 1 column: HF rows [a0, a1, b0, b1] (pairs (a0, b0), (a1, b1)) become [a0, b0, a1, b1].
        float[] hf = [10, 11, 20, 21];
        Assert.Equal([10f, 20, 11, 21], GgufConvert.PermuteForGguf(hf, 1, 4, 1));
        var rng = new Rng(1);
        var w = new float[2 * 8 * 3];
        rng.FillNormal(w);
        Assert.Equal(w, GgufConvert.PermuteFromGguf(GgufConvert.PermuteForGguf(w, 2, 8, 3), 2, 8, 3));
    }

    [Fact]
    public void TheBundledModelRoundTripsThroughGgufWithTheSameTokensAndLogits()
    {
        string gguf = Path.Combine(_dir, "default-f32.gguf");
        GgufConvert.FolderToGguf(DefaultModel, gguf, GgmlType.F32);
        using var folder = InferenceModel.Load(DefaultModel);
        using var file = InferenceModel.Load(gguf);
        Assert.Equal("llama", file.Architecture);
        var ids = folder.Tokenizer.Encode(Text, addSpecial: true, parseSpecial: true);
        Assert.Equal(ids, file.Tokenizer.Encode(Text, addSpecial: true, parseSpecial: true));
        var expected = folder.Logits(ids, allPositions: true);
        var actual = file.Logits(ids, allPositions: true);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(MathF.Abs(expected[i] - actual[i]) <= 1e-4f * (1 + MathF.Abs(expected[i])), $"logit {i}: {actual[i]} vs {expected[i]}");

        // And back: GGUF -> folder gives the original model's logits.
        string back = Path.Combine(_dir, "back");
        GgufConvert.GgufToFolder(gguf, back);
        using var again = InferenceModel.Load(back);
        Assert.Equal(ids, again.Tokenizer.Encode(Text, addSpecial: true, parseSpecial: true));
        var roundTrip = again.Logits(ids, allPositions: true);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(MathF.Abs(expected[i] - roundTrip[i]) <= 1e-4f * (1 + MathF.Abs(expected[i])), $"round-trip logit {i}");
    }

    [Theory]
    [InlineData(GgmlType.F16, 1e-5)]
    [InlineData(GgmlType.Q8_0, 1e-3)]
    public void QuantizedExportsStayCloseToTheOriginal(GgmlType type, double maxNmse)
    {
        string gguf = Path.Combine(_dir, $"default-{type}.gguf");
        GgufConvert.FolderToGguf(DefaultModel, gguf, type);
        using var folder = InferenceModel.Load(DefaultModel);
        using var file = InferenceModel.Load(gguf);
        var ids = folder.Tokenizer.Encode(Text, addSpecial: true, parseSpecial: true);
        double nmse = Nmse(file.Logits(ids, true), folder.Logits(ids, true));
        Assert.True(nmse <= maxNmse, $"{type}: NMSE {nmse:E2}");
        // ffn_down rows (688) are not whole Q8_0 blocks: they fall back to F16 as llama.cpp's quantizer does.
        Assert.Equal(type == GgmlType.Q8_0 ? GgmlType.F16 : type, file.Decoder.Weights.Layers[0].Down.Type);
        Assert.Equal(type, file.Decoder.Weights.Layers[0].Q!.Type);
    }
}
