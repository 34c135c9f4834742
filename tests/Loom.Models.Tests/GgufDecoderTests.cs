using Loom.Formats;
using Loom.Models.Gguf;
using Loom.Models.Inference;
using Loom.Tensors;
using Loom.Tensors.Quant;
using Loom.Testing;
using Loom.Text;

namespace Loom.Models.Tests;

public sealed class GgufDecoderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("loom-gguf-decoder-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    internal static GgufVocab DefaultVocab() => GgufTokenizer.FromTokenizerJson(Path.Combine(Fixtures.RepoRoot, "models", "default", "tokenizer.json"));

    internal static string WriteTiny(string dir, string arch, GgmlType type, ulong seed = 7)
    {
        string path = Path.Combine(dir, $"{arch}-{type}.gguf");
        TestModelWriter.Write(path, arch, type, seed, DefaultVocab(), TestModelShape.Tiny);
        return path;
    }

    /// <summary>sum (a - b)² / sum b².</summary>
    internal static double Nmse(ReadOnlySpan<float> actual, double[][] expected)
    {
        double num = 0, den = 0;
        int v = expected[0].Length;
        for (int t = 0; t < expected.Length; t++)
            for (int i = 0; i < v; i++)
            {
                double d = actual[t * v + i] - expected[t][i];
                num += d * d;
                den += expected[t][i] * expected[t][i];
            }
        return num / den;
    }

    [Theory]
    [InlineData("llama", GgmlType.F32, 1e-9)]
    [InlineData("qwen2", GgmlType.F32, 1e-9)]
    [InlineData("qwen3", GgmlType.F32, 1e-9)]
    [InlineData("phi3", GgmlType.F32, 1e-9)]
    [InlineData("gemma", GgmlType.F32, 1e-9)]
    [InlineData("gemma2", GgmlType.F32, 1e-8)]   // f32 rounding through soft-capping and 16x-scaled embeddings: 1.7e-9 since F32 prefill uses the blocked SGEMM
    [InlineData("llama", GgmlType.F16, 1e-5)]
    [InlineData("gemma2", GgmlType.BF16, 1e-5)]
    [InlineData("qwen2", GgmlType.Q8_0, 1e-3)]
    [InlineData("phi3", GgmlType.Q4_0, 1e-3)]
    [InlineData("qwen3", GgmlType.Q4_K, 1e-3)]
    [InlineData("llama", GgmlType.Q6_K, 1e-3)]
    public void EveryArchitectureMatchesAPlainReferenceForward(string arch, GgmlType type, double maxNmse)
    {
        using var m = InferenceModel.Load(WriteTiny(_dir, arch, type));
        Assert.Equal(arch, m.Architecture);
        Assert.Equal(4096, m.VocabSize);
        var rng = new Rng(3);
        var ids = Enumerable.Range(0, 20).Select(_ => rng.NextInt(4096)).ToArray();
        var logits = m.Logits(ids, allPositions: true);
        Assert.Equal(20 * 4096, logits.Length);
        var expected = DecoderReference.Logits(m.Decoder, ids);
        double nmse = Nmse(logits, expected);
        Assert.True(nmse <= maxNmse, $"{arch} {type}: NMSE {nmse:E2} > {maxNmse:E0}");
        // Logits are spread (not degenerate): the last position's standard deviation is well above zero.
        var last = expected[^1];
        double mean = last.Average(), std = Math.Sqrt(last.Sum(v => (v - mean) * (v - mean)) / last.Length);
        Assert.True(std > 0.5, $"{arch}: logits std {std}");
        // The last-position overload returns the same row (up to the matmul kernel's summation order for one token).
        var lastOnly = m.Logits(ids, allPositions: false);
        for (int i = 0; i < 4096; i++)
            Assert.True(MathF.Abs(lastOnly[i] - logits[19 * 4096 + i]) <= 1e-3f * (1 + MathF.Abs(lastOnly[i])), $"last-row logit {i}");
    }

    [Fact]
    public void HyperParametersComeFromTheArchitectureMetadata()
    {
        using (var m = InferenceModel.Load(WriteTiny(_dir, "gemma2", GgmlType.F32)))
        {
            var c = m.Decoder.Config;
            Assert.Equal((256, 2, 4, 2, 64, 512), (c.Dim, c.Layers, c.Heads, c.KvHeads, c.HeadDim, c.FfnDim));
            Assert.Equal(RopeStyle.Neox, c.RopeStyle);
            Assert.Equal(FfnActivation.GeluTanh, c.Activation);
            Assert.True(c.ScaleEmbedding);
            Assert.Equal(5f, c.AttentionSoftCap);
            Assert.Equal(3f, c.FinalSoftCap);
            Assert.Equal(8, c.SlidingWindow);
            Assert.Equal([true, false], c.SlidingLayers!);
            Assert.Equal(1e-6f, c.NormEps);
            Assert.Same(m.Decoder.Weights.TokenEmbedding, m.Decoder.Weights.Output);
        }
        using (var m = InferenceModel.Load(WriteTiny(_dir, "llama", GgmlType.F32)))
        {
            var c = m.Decoder.Config;
            Assert.Equal(RopeStyle.Normal, c.RopeStyle);
            Assert.Equal(500000f, c.RopeTheta);
            Assert.NotNull(c.RopeFreqFactors);
            Assert.Equal(2048, m.ContextLength);
            Assert.NotSame(m.Decoder.Weights.TokenEmbedding, m.Decoder.Weights.Output);
            Assert.StartsWith("loom-test-tiny-F32", m.Name);
        }
    }

    [Theory]
    [InlineData("gemma2")]
    [InlineData("qwen2")]
    public void RaggedBatchesMatchEachSequenceAlone(string arch)
    {
        using var m = InferenceModel.Load(WriteTiny(_dir, arch, GgmlType.F32));
        var rng = new Rng(4);
        int[] Ids(int n) => Enumerable.Range(0, n).Select(_ => rng.NextInt(4096)).ToArray();
        var a = Ids(14);
        var b = Ids(9);
        using var lm = m.CreateBatch(3, 32);
        var logits = new float[2 * 4096];
        lm.Forward([new BatchRow(2, a[..10]), new BatchRow(0, b[..3])], logits);
        lm.Forward([new BatchRow(0, b[3..]), new BatchRow(2, a[10..])], logits);
        var ea = m.Logits(a, false);
        var eb = m.Logits(b, false);
        for (int i = 0; i < 4096; i++)
        {
            Assert.True(MathF.Abs(logits[i] - eb[i]) < 1e-4f, $"row b logit {i}");
            Assert.True(MathF.Abs(logits[4096 + i] - ea[i]) < 1e-4f, $"row a logit {i}");
        }
    }

    [Fact]
    public void EmbeddingsAreUnitLengthAndDependOnTheText()
    {
        using var m = InferenceModel.Load(WriteTiny(_dir, "qwen3", GgmlType.F32));
        var e1 = m.Embed(m.Tokenizer.Encode("hello world"));
        var e2 = m.Embed(m.Tokenizer.Encode("a different sentence"));
        Assert.Equal(256, e1.Length);
        Assert.Equal(1.0, Math.Sqrt(e1.Sum(v => (double)v * v)), 5);
        Assert.True(e1.Zip(e2).Sum(p => p.First * p.Second) < 0.9999f);
    }

    /// <summary>Copies a GGUF file through GgufWriter, letting the caller drop or replace metadata and tensors.</summary>
    internal static void Rewrite(string from, string to, Func<string, GgufValue, GgufValue?> meta, Func<GgufTensorInfo, GgufFile, (long[] Dims, byte[] Data)?> tensor)
    {
        using var f = GgufFile.Open(from);
        var w = new GgufWriter(f.Alignment);
        foreach (var (k, v) in f.Metadata)
        {
            if (k == "general.alignment") continue;
            var nv = meta(k, v);
            if (nv != null) w.Add(k, nv);
        }
        foreach (var t in f.Tensors)
        {
            var nt = tensor(t, f);
            if (nt is { } x) w.AddTensor(t.Name, x.Dims, t.Type.Id, x.Data);
        }
        w.Save(to);
    }

    [Fact]
    public void HostileFilesNameTheProblem()
    {
        string good = WriteTiny(_dir, "llama", GgmlType.F32);
        string bad = Path.Combine(_dir, "bad.gguf");
        static (long[], byte[])? Keep(GgufTensorInfo t, GgufFile f) => (t.Dims, f.Bytes(t).ToArray());

        void Expect(string fragment)
        {
            var e = Assert.Throws<ModelFileException>(() => InferenceModel.Load(bad).Dispose());
            Assert.Contains("bad.gguf", e.Message);
            Assert.Contains(fragment, e.Message);
        }

        {
            Rewrite(good, bad, (_, v) => v, (t, src) => t.Name == "blk.1.ffn_up.weight" ? null : Keep(t, src));
            Expect("blk.1.ffn_up.weight");
            Rewrite(good, bad, (_, v) => v, (t, src) => t.Name == "blk.0.attn_k.weight" ? ([256, 256], new byte[256 * 256 * 4]) : Keep(t, src));
            Expect("blk.0.attn_k.weight");
            Rewrite(good, bad, (k, v) => k == "general.architecture" ? GgufValue.String("mamba") : v, Keep);
            Expect("mamba");
            Rewrite(good, bad, (k, v) => k == "llama.embedding_length" ? null : v, Keep);
            Expect("llama.embedding_length");
            Rewrite(good, bad, (k, v) => k == "llama.attention.head_count" ? GgufValue.UInt32(3) : v, Keep);
            Expect("head_count");
            Rewrite(good, bad, (k, v) => k == "llama.block_count" ? GgufValue.UInt32(1) : v, Keep);
            Expect("blk.1.");   // the second layer's tensors are left over
        }
    }
}
