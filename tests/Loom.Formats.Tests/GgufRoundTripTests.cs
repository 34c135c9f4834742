using Loom.Formats;
using Loom.Tensors;

namespace Loom.Formats.Tests;

public sealed class GgufRoundTripTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void EveryMetadataValueTypeRoundTrips()
    {
        string p = _dir.File("meta.gguf");
        var w = new GgufWriter();
        var values = GgufSamples.AllValues();
        foreach (var (k, v) in values) w.Add(k, v);
        w.Save(p);
        using var f = GgufFile.Open(p);
        Assert.Equal(3u, f.Version);
        Assert.Equal(values.Select(kv => kv.Key), f.Metadata.Keys);
        foreach (var (k, v) in values)
        {
            Assert.Equal(v.Type, f.Metadata[k].Type);
            Assert.Equal(v.ElementType, f.Metadata[k].ElementType);
            Assert.True(v.Equals(f.Metadata[k]), $"{k}: wrote {v}, read {f.Metadata[k]}");
        }
        Assert.Equal(new[] { "<s>", "", "ünïcode", "▁the" }, f.Metadata["a.str"].AsArray<string>());
        Assert.Equal(-2_000_000_000, f.Metadata["i32"].AsInt64());
        Assert.Empty(f.Tensors);
    }

    [Fact]
    public void TensorsRoundTripWithShapesTypesAndAlignment()
    {
        foreach (int alignment in new[] { 32, 64 })
        {
            string p = _dir.File($"t{alignment}.gguf");
            var rng = new Rng(5);
            using var a = Tensor.RandNormal(rng, 0, 1, 3, 5);
            using var h = a.ToDType(DType.F16);
            using var b = a.ToDType(DType.BF16);
            var q4 = Enumerable.Range(0, 18 * 3).Select(i => (byte)(i * 7)).ToArray();
            var q6k = Enumerable.Range(0, 210 * 2).Select(i => (byte)(i * 3)).ToArray();
            new GgufWriter(alignment)
                .Add("general.architecture", GgufValue.String("test"))
                .AddTensor("a", a).AddTensor("h", h).AddTensor("b", b)
                .AddTensor("q4", [32, 3], GgmlTypes.Q4_0, q4)
                .AddTensor("q6k", [512], GgmlTypes.Q6_K, q6k)
                .Save(p);
            using var f = GgufFile.Open(p);
            Assert.Equal(alignment, f.Alignment);
            Assert.Equal(0, f.DataStart % alignment);
            Assert.Equal(["a", "h", "b", "q4", "q6k"], f.Tensors.Select(t => t.Name));
            foreach (var t in f.Tensors) Assert.Equal(0, t.Offset % alignment);
            Assert.Equal([5L, 3], f.Find("a")!.Dims);
            Assert.Equal([3L, 5], f.Find("a")!.RowMajorShape);
            Assert.Equal(60, f.Find("a")!.ByteSize);
            Assert.Equal("BF16", f.Find("b")!.Type.Name);
            using (var ta = f.Tensor("a")) Assert.Equal(a.ToArray(), ta.ToArray());
            using (var th = f.Tensor("h")) { Assert.Equal(DType.F16, th.DType); Assert.Equal(h.ToArray(), th.ToArray()); }
            using (var tb = f.Tensor("b")) { Assert.Equal([3, 5], tb.Shape); Assert.Equal(b.ToArray(), tb.ToArray()); }
            Assert.Equal(q4, f.Bytes(f.Find("q4")!).ToArray());
            Assert.Equal(q6k, f.Bytes(f.Find("q6k")!).ToArray());
            Assert.Equal(96, f.Find("q4")!.ElementCount);
        }
    }

    [Theory]
    [InlineData(GgmlTypes.F32, 1, 4)]
    [InlineData(GgmlTypes.F16, 1, 2)]
    [InlineData(GgmlTypes.BF16, 1, 2)]
    [InlineData(GgmlTypes.Q4_0, 32, 18)]
    [InlineData(GgmlTypes.Q4_1, 32, 20)]
    [InlineData(GgmlTypes.Q5_0, 32, 22)]
    [InlineData(GgmlTypes.Q5_1, 32, 24)]
    [InlineData(GgmlTypes.Q8_0, 32, 34)]
    [InlineData(GgmlTypes.Q2_K, 256, 84)]
    [InlineData(GgmlTypes.Q3_K, 256, 110)]
    [InlineData(GgmlTypes.Q4_K, 256, 144)]
    [InlineData(GgmlTypes.Q5_K, 256, 176)]
    [InlineData(GgmlTypes.Q6_K, 256, 210)]
    public void ByteSizesMatchTheGgmlBlockLayouts(uint id, int block, int blockBytes)
    {
        var t = GgmlTypes.Get(id);
        Assert.Equal(block, t.BlockElements);
        Assert.Equal(blockBytes, t.BlockBytes);
        string p = _dir.File($"type{id}.gguf");
        var data = new byte[blockBytes * 2 * 3];
        new Random((int)id).NextBytes(data);
        new GgufWriter().AddTensor("w", [block * 2, 3], id, data).Save(p);
        using var f = GgufFile.Open(p);
        Assert.Equal(data.Length, f.Tensors[0].ByteSize);
        Assert.Equal(data, f.Bytes(f.Tensors[0]).ToArray());
    }

    [Fact]
    public void Version2IsAccepted()
    {
        var bytes = GgufSamples.Small(_dir.Path);
        bytes[4] = 2;
        string p = _dir.File("v2.gguf");
        File.WriteAllBytes(p, bytes);
        using var f = GgufFile.Open(p);
        Assert.Equal(2u, f.Version);
        Assert.Equal(3, f.Tensors.Count);
    }

    [Fact]
    public void WriterRejectsWrongSizesAndDuplicates()
    {
        var w = new GgufWriter();
        Assert.Throws<ArgumentException>(() => w.AddTensor("q", [32], GgmlTypes.Q4_0, new byte[17]));
        Assert.Throws<ArgumentException>(() => w.AddTensor("q", [31], GgmlTypes.Q4_0, new byte[18]));
        w.AddTensor("q", [32], GgmlTypes.Q4_0, new byte[18]);
        Assert.Throws<ArgumentException>(() => w.AddTensor("q", [32], GgmlTypes.Q4_0, new byte[18]));
        w.Add("k", GgufValue.Bool(true));
        Assert.Throws<ArgumentException>(() => w.Add("k", GgufValue.Bool(false)));
        Assert.Throws<ArgumentException>(() => GgufValue.Array(GgufValueType.Int32, new float[1]));
    }
}
