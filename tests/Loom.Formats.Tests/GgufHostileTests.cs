using System.Buffers.Binary;
using System.Diagnostics;
using Loom.Formats;

namespace Loom.Formats.Tests;

/// <summary>Damaged or hostile GGUF files must give a <see cref="ModelFileException"/> naming the file and the problem.</summary>
public sealed class GgufHostileTests : IDisposable
{
    private readonly TempDir _dir = new();
    private int _n;

    public void Dispose() => _dir.Dispose();

    private void AssertRejected(byte[] bytes, params string[] problems)
    {
        string path = _dir.File($"bad{_n++}.gguf");
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<ModelFileException>(() => GgufFile.Open(path).Dispose());
        Assert.Contains(path, e.Message);
        foreach (var p in problems) Assert.Contains(p, e.Message);
    }

    [Fact]
    public void WrongMagicAndUnsupportedVersions()
    {
        AssertRejected(new RawGguf(magic: 0x4C4C4747).ToArray(), "not a GGUF file");
        AssertRejected(new RawGguf(version: 1).ToArray(), "unsupported GGUF version 1");
        AssertRejected(new RawGguf(version: 4).ToArray(), "unsupported GGUF version 4");
        AssertRejected([], "empty");
        AssertRejected([0x47, 0x47], "too short");
    }

    [Fact]
    public void EveryTruncationIsRejected()
    {
        var valid = GgufSamples.Small(_dir.Path);
        for (int len = 1; len < valid.Length; len++) AssertRejected(valid[..len]);
    }

    [Fact]
    public void ImpossibleCountsAreRejectedBeforeAllocating()
    {
        AssertRejected(new RawGguf(kvs: ulong.MaxValue).ToArray(), "metadata_kv_count");
        AssertRejected(new RawGguf(tensors: 1UL << 40).ToArray(), "tensor_count");
        AssertRejected(new RawGguf(kvs: 1).U64(ulong.MaxValue).Bytes(new byte[64]).ToArray(), "metadata key #0", "claims");
        AssertRejected(new RawGguf(kvs: 1).Str("k").U32((uint)GgufValueType.String).U64(1UL << 62).ToArray(), "metadata 'k'", "claims");
        AssertRejected(new RawGguf(kvs: 1).Str("k").U32((uint)GgufValueType.Array).U32((uint)GgufValueType.UInt64).U64(1UL << 40).Bytes(new byte[64]).ToArray(),
            "metadata 'k'", "array length");
        AssertRejected(new RawGguf(kvs: 1).Str("k").U32((uint)GgufValueType.Array).U32((uint)GgufValueType.String).U64(100).Bytes(new byte[64]).ToArray(),
            "metadata 'k'", "array length 100");
    }

    [Fact]
    public void BadValuesAreRejected()
    {
        AssertRejected(new RawGguf(kvs: 1).Str("k").U32(13).Bytes(new byte[16]).ToArray(), "metadata 'k'", "unknown value type 13");
        AssertRejected(new RawGguf(kvs: 1).Str("k").U32((uint)GgufValueType.Bool).Bytes(2).ToArray(), "metadata 'k'", "bool byte 2");
        AssertRejected(new RawGguf(kvs: 1).Str("k").U32((uint)GgufValueType.Array).U32((uint)GgufValueType.Array).U64(1).Bytes(new byte[16]).ToArray(), "arrays of arrays");
        AssertRejected(new RawGguf(kvs: 1).Str("k").U32((uint)GgufValueType.String).U64(2).Bytes(0xC3, 0x28).ToArray(), "metadata 'k'", "UTF-8");
        AssertRejected(new RawGguf(kvs: 2).Str("k").U32((uint)GgufValueType.UInt8).Bytes(1).Str("k").U32((uint)GgufValueType.UInt8).Bytes(1).ToArray(), "'k' appears more than once");
        AssertRejected(new RawGguf(kvs: 1).Str("general.alignment").U32((uint)GgufValueType.UInt32).U32(48).ToArray(), "not a power of two");
        AssertRejected(new RawGguf(kvs: 1).Str("general.alignment").U32((uint)GgufValueType.UInt64).U64(32).ToArray(), "expected UInt32");
    }

    private static RawGguf OneTensor(ulong[] dims, uint type = GgmlTypes.F32, ulong offset = 0) =>
        new RawGguf(tensors: 1).Tensor("w", dims, type, offset);

    [Fact]
    public void BadTensorInfosAreRejected()
    {
        AssertRejected(OneTensor([2, 2, 2, 2, 2]).Data(128), "tensor 'w'", "n_dims 5");
        AssertRejected(new RawGguf(tensors: 1).Str("w").U32(0).U32(0).U64(0).Data(16), "tensor 'w'", "n_dims 0");
        AssertRejected(OneTensor([1UL << 40, 1UL << 40, 1UL << 40, 1UL << 40]).Data(64), "tensor 'w'", "more data than the file holds");
        AssertRejected(OneTensor([ulong.MaxValue]).Data(64), "tensor 'w'", "more data than the file holds");
        AssertRejected(OneTensor([4], type: 99).Data(64), "tensor 'w'", "ggml type id 99");
        AssertRejected(OneTensor([4], type: 4).Data(64), "tensor 'w'", "ggml type id 4");
        AssertRejected(OneTensor([16], type: GgmlTypes.Q4_0).Data(64), "tensor 'w'", "block size 32");
        AssertRejected(OneTensor([4], offset: 8).Data(64), "tensor 'w'", "not a multiple of the alignment 32");
        AssertRejected(OneTensor([4], offset: 1UL << 50).Data(64), "tensor 'w'", "past the end");
        AssertRejected(OneTensor([32]).Data(64), "tensor 'w'", "run past its end");
        AssertRejected(OneTensor([16], offset: 32).Data(64), "tensor 'w'", "run past its end");
        AssertRejected(new RawGguf(tensors: 2).Tensor("w", [4], 0, 0).Tensor("w", [4], 0, 32).Data(64), "tensor 'w' appears more than once");
        AssertRejected(new RawGguf(tensors: 2).Tensor("a", [16], 0, 0).Tensor("b", [4], 0, 32).Data(128), "'a' and 'b' overlap");
        AssertRejected(new RawGguf(tensors: 1).Str("w").U32(1).U64(4).U32(0).ToArray(), "truncated", "tensor 'w' offset");
    }

    [Fact]
    public void ZeroTensorFileWithoutPaddingIsValid()
    {
        string p = _dir.File("empty-ok.gguf");
        File.WriteAllBytes(p, new RawGguf(kvs: 1).Str("k").U32((uint)GgufValueType.Int32).U32(5).ToArray());
        using var f = GgufFile.Open(p);
        Assert.Equal(5, f.Metadata["k"].AsInt64());
    }

    /// <summary>A few hundred seeded mutations of a valid file: each opens cleanly or gives a ModelFileException, quickly.</summary>
    [Fact]
    public void MutationFuzzOnlyEverSucceedsOrThrowsModelFileException()
    {
        var valid = GgufSamples.Small(_dir.Path);
        var rng = new Random(20240607);
        string path = _dir.File("fuzz.gguf");
        var sw = Stopwatch.StartNew();
        int ok = 0, rejected = 0;
        ulong[] lengths = [0, 1, 7, 31, 32, 255, 1UL << 31, 1UL << 32, 1UL << 62, ulong.MaxValue, long.MaxValue];
        for (int iter = 0; iter < 600; iter++)
        {
            var b = (byte[])valid.Clone();
            switch (iter % 4)
            {
                case 0:
                    for (int k = rng.Next(1, 5); k > 0; k--) b[rng.Next(b.Length)] ^= (byte)(1 << rng.Next(8));
                    break;
                case 1:
                    b = b[..rng.Next(1, b.Length)];
                    break;
                case 2:   // a corrupt length/count field somewhere in the header region
                {
                    int at = rng.Next(4, Math.Min(b.Length, 400) - 8);
                    BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(at), lengths[rng.Next(lengths.Length)] + (ulong)rng.Next(3));
                    break;
                }
                default:
                    b[rng.Next(b.Length)] = (byte)rng.Next(256);
                    if (rng.Next(2) == 0) b = b[..rng.Next(1, b.Length)];
                    break;
            }
            File.WriteAllBytes(path, b);
            try
            {
                using var f = GgufFile.Open(path);
                foreach (var v in f.Metadata.Values) _ = v.ToString();
                foreach (var t in f.Tensors) _ = f.Bytes(t).ToArray();
                ok++;
            }
            catch (ModelFileException e)
            {
                Assert.Contains(path, e.Message);
                rejected++;
            }
        }
        Assert.True(rejected > 300, $"only {rejected} of 600 mutations were rejected");
        // A hang guard, not a speed test: generous for a loaded 2-core CI machine (typically a few seconds).
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(120), $"fuzzing took {sw.Elapsed}");
    }
}
