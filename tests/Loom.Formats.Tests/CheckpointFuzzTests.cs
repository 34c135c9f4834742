using System.Buffers.Binary;
using Loom.Tensors;

namespace Loom.Formats.Tests;

/// <summary>Seeded mutations of a valid checkpoint: loading must either succeed or throw <see cref="ModelFileException"/>.</summary>
public class CheckpointFuzzTests
{
    private const string JsonBytes = "{}[]\":,.-+eE0123456789 \\u";

    [Fact]
    public void MutatedCheckpointsOnlySucceedOrThrowModelFileException()
    {
        using var dir = new TempDir();
        using var source = new TinyTraining(seed: 1);
        source.TrainStep();
        string validPath = dir.File("valid.safetensors");
        source.Checkpoint().Save(validPath);
        var valid = File.ReadAllBytes(validPath);
        int headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(valid);

        using var target = new TinyTraining(seed: 2);
        var rng = new Rng(2024);
        string path = dir.File("mutant.safetensors");
        int ok = 0, rejected = 0;
        var unexpected = new List<string>();
        for (int iter = 0; iter < 400; iter++)
        {
            var (bytes, what) = Mutate(valid, headerEnd, rng);
            File.WriteAllBytes(path, bytes);
            try
            {
                SafeTensorsFile.Open(path).Dispose();
                target.Restore(path);
                ok++;
            }
            catch (ModelFileException e)
            {
                Assert.Contains(path, e.Message);
                rejected++;
            }
            catch (Exception e)
            {
                unexpected.Add($"#{iter} ({what}): {e.GetType().Name}: {e.Message}");
            }
        }
        Assert.True(unexpected.Count == 0, string.Join("\n", unexpected.Take(10)));
        Assert.True(ok > 0 && rejected > 0, $"the mutations should include harmless and fatal ones ({ok} loaded, {rejected} rejected)");
    }

    private static (byte[] Bytes, string What) Mutate(byte[] valid, int headerEnd, Rng rng)
    {
        var b = (byte[])valid.Clone();
        switch (rng.NextInt(7))
        {
            case 0:
                for (int k = 1 + rng.NextInt(4); k > 0; k--) { int i = rng.NextInt(headerEnd); b[i] ^= (byte)(1 << rng.NextInt(8)); }
                return (b, "header bit flips");
            case 1:
                for (int k = 1 + rng.NextInt(3); k > 0; k--) b[8 + rng.NextInt(headerEnd - 8)] = (byte)JsonBytes[rng.NextInt(JsonBytes.Length)];
                return (b, "header JSON-ish bytes");
            case 2:
                return (b[..rng.NextInt(b.Length)], "truncation");
            case 3:
                for (int k = 1 + rng.NextInt(8); k > 0; k--) b[rng.NextInt(b.Length)] = (byte)rng.NextInt(256);
                return (b, "random bytes anywhere");
            case 4:
                BinaryPrimitives.WriteUInt64LittleEndian(b, (ulong)rng.NextInt(b.Length + 64));
                return (b, "header length");
            case 5:
            {
                int at = 8 + rng.NextInt(headerEnd - 8), len = 1 + rng.NextInt(16);
                return (b[..at].Concat(b[Math.Min(b.Length, at + len)..]).ToArray(), "deleted header bytes");
            }
            default:
            {
                // Change one digit of the header, which moves offsets and shapes by plausible amounts.
                var digits = Enumerable.Range(8, headerEnd - 8).Where(i => b[i] is >= (byte)'0' and <= (byte)'9').ToArray();
                b[digits[rng.NextInt(digits.Length)]] = (byte)('0' + rng.NextInt(10));
                return (b, "changed digit");
            }
        }
    }
}
