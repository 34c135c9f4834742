using System.Buffers.Binary;
using System.Text;
using Loom.Nn;
using Loom.Tensors;

namespace Loom.Formats.Tests;

/// <summary>Damaged or hostile files must give a <see cref="ModelFileException"/> naming the file and the problem.</summary>
public sealed class CorruptFileTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Write(string name, byte[] bytes)
    {
        string p = _dir.File(name);
        File.WriteAllBytes(p, bytes);
        return p;
    }

    /// <summary>A safetensors file from a raw header string and <paramref name="dataBytes"/> zero bytes of data.</summary>
    private static byte[] Raw(string header, int dataBytes)
    {
        var h = Encoding.UTF8.GetBytes(header);
        var b = new byte[8 + h.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(b, (ulong)h.Length);
        h.CopyTo(b, 8);
        return b;
    }

    private byte[] ValidCheckpoint()
    {
        using var run = new TinyTraining(seed: 1);
        run.TrainStep();
        string p = _dir.File("valid.safetensors");
        run.Checkpoint().Save(p);
        return File.ReadAllBytes(p);
    }

    /// <summary>Both the plain reader and the checkpoint loader must reject the file with this problem.</summary>
    private void AssertRejected(string name, byte[] bytes, string problem)
    {
        string path = Write(name, bytes);
        var e = Assert.Throws<ModelFileException>(() => SafeTensorsFile.Open(path).Dispose());
        Assert.Contains(path, e.Message);
        Assert.Contains(problem, e.Message);
        var e2 = Assert.Throws<ModelFileException>(() => new TrainingCheckpoint(new TinyMlp(new Rng(1))).Load(path));
        Assert.Contains(path, e2.Message);
    }

    [Fact]
    public void TruncatedCheckpoint()
    {
        var valid = ValidCheckpoint();
        AssertRejected("trunc-data.safetensors", valid[..(valid.Length - 10)], "past the end of the data");
        AssertRejected("trunc-header.safetensors", valid[..200], "truncated");
        AssertRejected("trunc-len.safetensors", valid[..5], "too short");
        AssertRejected("empty.safetensors", [], "empty");
    }

    [Fact]
    public void GarbageAndWrongMagic()
    {
        var rng = new Rng(7);
        var garbage = new byte[4096];
        for (int i = 0; i < garbage.Length; i++) garbage[i] = (byte)rng.NextInt(256);
        AssertRejected("garbage.bin", garbage, "exceeds");
        AssertRejected("text.txt", Encoding.UTF8.GetBytes("this is a text file, not a model at all"), "exceeds");
        // A plausible length followed by something that is not a JSON object (another format's magic).
        AssertRejected("magic.bin", Raw("PK\u0003\u0004 zip file contents", 16), "not valid JSON");
    }

    [Fact]
    public void OversizedHeaderLength()
    {
        foreach (ulong n in new[] { ulong.MaxValue, 1UL << 40, (ulong)SafeTensorsFile.MaxHeaderBytes + 1 })
        {
            var b = new byte[64];
            BinaryPrimitives.WriteUInt64LittleEndian(b, n);
            AssertRejected($"huge-{n}.bin", b, "exceeds");
        }
        // Within the limit but longer than the file.
        var shortFile = new byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(shortFile, 100);
        AssertRejected("long.bin", shortFile, "truncated");
    }

    [Fact]
    public void OffsetsPastTheEnd() =>
        AssertRejected("offsets.bin", Raw("""{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,1000000]}}""", 16), "past the end");

    [Fact]
    public void OverlappingTensors() =>
        AssertRejected("overlap.bin", Raw("""{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}""", 24), "overlap");

    [Theory]
    [InlineData("F64")]
    [InlineData("I64")]
    [InlineData("nonsense")]
    public void BadDtype(string dtype) =>
        AssertRejected($"dtype-{dtype}.bin", Raw("{\"w\":{\"dtype\":\"" + dtype + "\",\"shape\":[2],\"data_offsets\":[0,8]}}", 16), "unsupported dtype");

    [Theory]
    [InlineData("[-1]", "invalid dimension")]
    [InlineData("[1.5]", "invalid dimension")]
    [InlineData("[\"4\"]", "invalid dimension")]
    [InlineData("[4294967296]", "invalid dimension")]
    [InlineData("[2147483647,2147483647,2147483647]", "more data than the file holds")]
    [InlineData("[1,1,1,1,1,1,1,1,1,1,1,1]", "rank")]
    [InlineData("4", "missing shape")]
    public void NegativeOrAbsurdShape(string shape, string problem) =>
        AssertRejected($"shape-{Guid.NewGuid():N}.bin", Raw("{\"w\":{\"dtype\":\"F32\",\"shape\":" + shape + ",\"data_offsets\":[0,16]}}", 16), problem);

    [Theory]
    [InlineData("""{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}""", "not valid JSON")]
    [InlineData("""[1,2,3]""", "not a JSON object")]
    [InlineData("""{"w":[1,2]}""", "not an object")]
    [InlineData("""{"w":{"dtype":"F32","shape":[4],"data_offsets":["0","16"]}}""", "invalid data_offsets")]
    [InlineData("""{"w":{"dtype":"F32","shape":[4],"data_offsets":[0]}}""", "missing data_offsets")]
    [InlineData("""{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,12]}}""", "expected 16")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}""", "more than once")]
    [InlineData("""{"__metadata__":{"a":1}}""", "not a string")]
    [InlineData("""{"__metadata__":[]}""", "not an object")]
    [InlineData("""{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", "")] // valid, but the checkpoint loader must still reject it
    public void MalformedHeader(string header, string problem)
    {
        var bytes = Raw(header, 16);
        if (problem == "")
        {
            string path = Write("plain.bin", bytes);
            SafeTensorsFile.Open(path).Dispose();
            Assert.Contains("not a Loom training checkpoint", Assert.Throws<ModelFileException>(() => new TrainingCheckpoint(new TinyMlp(new Rng(1))).Load(path)).Message);
            return;
        }
        AssertRejected($"header-{Guid.NewGuid():N}.bin", bytes, problem);
    }

    [Fact]
    public void InvalidUtf8AndDeepNesting()
    {
        var b = Raw("{\"w\":  }", 0);
        b[13] = 0xFF;
        b[14] = 0xFE;
        AssertRejected("utf8.bin", b, "not valid UTF-8");
        // Inside a string JsonDocument itself does not notice; the name would throw InvalidOperationException when read.
        var inName = Raw("{\"w?\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
        inName[8 + 3] = 0xC3;
        AssertRejected("utf8-name.bin", inName, "not valid UTF-8");
        AssertRejected("deep.bin", Raw(new string('[', 5000) + new string(']', 5000), 0), "not valid JSON");
    }

    [Fact]
    public void MissingFile()
    {
        var e = Assert.Throws<ModelFileException>(() => SafeTensorsFile.Open(_dir.File("nope.safetensors")));
        Assert.Contains("not found", e.Message);
    }

    [Fact]
    public void CheckpointMetadataDamage()
    {
        using var run = new TinyTraining(seed: 1);
        var model = new Dictionary<string, Tensor>();
        foreach (var (n, t) in run.Model.StateDict()) model["model." + n] = t;
        void Check(string name, Dictionary<string, string> meta, string problem)
        {
            string p = _dir.File(name);
            SafeTensorsFile.Save(p, model, meta);
            var c = new TrainingCheckpoint(run.Model);
            c.Rngs["data"] = new Rng(1);
            var e = Assert.Throws<ModelFileException>(() => c.Load(p));
            Assert.Contains(p, e.Message);
            Assert.Contains(problem, e.Message);
        }
        var ok = new Dictionary<string, string> { ["format"] = TrainingCheckpoint.FormatName, ["version"] = "1", ["step"] = "3", ["user"] = "{}", ["rng.data"] = "1,2,3,4,5,0" };
        Check("v2.st", new(ok) { ["version"] = "2" }, "version");
        Check("step.st", new(ok) { ["step"] = "-3" }, "step");
        Check("user.st", new(ok) { ["user"] = "{oops" }, "'user' is not valid JSON");
        Check("user2.st", new(ok) { ["user"] = "[1]" }, "not a JSON object");
        Check("rng.st", new(ok) { ["rng.data"] = "1,2,3" }, "expected 6");
        Check("rng2.st", new(ok) { ["rng.data"] = "1,2,3,4,5,zz" }, "hex");
        var noStep = new Dictionary<string, string>(ok);
        noStep.Remove("step");
        Check("nostep.st", noStep, "'step' is missing");
    }
}
