using Loom.Formats;
using Loom.Tensors.Quant;

namespace Loom.Cli.Tests;

/// <summary>`loom quantize`: converts the matrices of a small GGUF written here, keeps the rest, sets general.file_type; clear errors.</summary>
[Collection("console")]
public class QuantizeCommandTests
{
    private static (int Code, string Output) Run(params string[] args)
    {
        var sw = new StringWriter();
        var console = Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings
        {
            Out = new Spectre.Console.AnsiConsoleOutput(sw), Ansi = Spectre.Console.AnsiSupport.No, ColorSystem = Spectre.Console.ColorSystemSupport.NoColors,
        });
        int code = Program.Run(args, console);
        return (code, sw.ToString());
    }

    private static byte[] Floats(float[] v)
    {
        var b = new byte[v.Length * 4];
        Buffer.BlockCopy(v, 0, b, 0, b.Length);
        return b;
    }

    private static float[] Random(int n, int seed)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }

    [Theory]
    [InlineData("Q4_K", GgmlType.Q4_K, 15u)]
    [InlineData("q8_0", GgmlType.Q8_0, 7u)]
    [InlineData("Q6_K", GgmlType.Q6_K, 18u)]
    [InlineData("F16", GgmlType.F16, 1u)]
    public void QuantizesMatricesKeepsNormsAndMetadata(string typeArg, GgmlType type, uint fileType)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"loom-quantize-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string src = Path.Combine(dir, "in.gguf"), dst = Path.Combine(dir, "out.gguf");
            var embd = Random(256 * 8, 1);      // token_embd (8 rows of 256)
            var ffn = Random(512 * 4, 2);       // a matrix with 512-element rows
            var odd = Random(96 * 3, 3);        // rows of 96: not whole 256-blocks
            var norm = Random(256, 4);
            new GgufWriter()
                .Add("general.architecture", GgufValue.String("llama"))
                .Add("general.file_type", GgufValue.UInt32(0))
                .Add("llama.block_count", GgufValue.UInt32(1))
                .Add("tokenizer.ggml.tokens", GgufValue.Array(new[] { "a", "b" }))
                .AddTensor("token_embd.weight", [256, 8], (uint)GgmlType.F32, Floats(embd))
                .AddTensor("blk.0.ffn_down.weight", [512, 4], (uint)GgmlType.F32, Floats(ffn))
                .AddTensor("blk.0.odd.weight", [96, 3], (uint)GgmlType.F32, Floats(odd))
                .AddTensor("blk.0.attn_norm.weight", [256], (uint)GgmlType.F32, Floats(norm))
                .Save(src);

            var (code, output) = Run("quantize", src, dst, "--type", typeArg);
            Assert.True(code == 0, output);
            using var f = GgufFile.Open(dst);
            Assert.Equal("llama", f.Get("general.architecture")!.AsString());
            Assert.Equal(fileType, (uint)f.Get("general.file_type")!.AsInt64());
            Assert.Equal(2, f.Get("tokenizer.ggml.tokens")!.ArrayLength);

            void Check(string name, float[] values, int cols, GgmlType expect)
            {
                var t = f.Find(name)!;
                Assert.Equal((uint)expect, t.Type.Id);
                var want = new byte[GgmlTypeLayout.RowBytes(expect, values.Length)];
                QuantRows.Quantize(expect, values, want);
                Assert.Equal(want, f.Bytes(t).ToArray());
            }
            Check("token_embd.weight", embd, 256, type);  // like llama-quantize --pure: embeddings in the same type
            Check("blk.0.ffn_down.weight", ffn, 512, type);
            GgmlType oddType = type switch { GgmlType.Q4_K => GgmlType.Q5_0, GgmlType.Q6_K => GgmlType.Q8_0, _ => type };
            Check("blk.0.odd.weight", odd, 96, oddType);
            Check("blk.0.attn_norm.weight", norm, 256, GgmlType.F32);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void UnknownTypeAndNonGgufInputAreOneLineErrors()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"loom-quantize-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string bad = Path.Combine(dir, "not.gguf");
            File.WriteAllText(bad, "this is not a gguf file at all");
            var (code, output) = Run("quantize", bad, Path.Combine(dir, "o.gguf"), "--type", "Q9_9");
            Assert.NotEqual(0, code);
            Assert.Contains("unknown type 'Q9_9'", output);
            (code, output) = Run("quantize", bad, Path.Combine(dir, "o.gguf"), "--type", "Q8_0");
            Assert.NotEqual(0, code);
            Assert.Contains("not.gguf", output);
            Assert.DoesNotContain("   at ", output);
            Assert.False(File.Exists(Path.Combine(dir, "o.gguf")));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void BenchQuantRunsASmallShapeAndRejectsBadColumns()
    {
        var (code, output) = Run("bench", "quant", "--type", "Q8_0,Q4_K", "--rows", "32", "--cols", "256", "--tokens", "1,9", "--threads", "1", "--quick");
        Assert.True(code == 0, output);
        Assert.Contains("Q4_K", output);
        Assert.Contains("GFLOP/s", output);
        (code, output) = Run("bench", "quant", "--type", "Q4_K", "--cols", "100");
        Assert.NotEqual(0, code);
        Assert.Contains("--cols 100", output);
    }
}
