using System.Text.Json;
using Loom.Bench;
using Loom.Models.Gguf;
using Loom.Models.Inference;
using Loom.Tensors.Quant;

namespace Loom.Cli.Tests;

[Collection("console")]
public class BenchDecodeTests
{
    private static (int Code, string Stdout, string Console) Run(params string[] args)
    {
        var original = Console.Out;
        var stdout = new StringWriter();
        var console = new StringWriter();
        Console.SetOut(stdout);
        try
        {
            int code = Program.Run(args, Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings
            {
                Out = new Spectre.Console.AnsiConsoleOutput(console), Ansi = Spectre.Console.AnsiSupport.No,
            }));
            return (code, stdout.ToString(), console.ToString());
        }
        finally { Console.SetOut(original); }
    }

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "Loom.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("no Loom.sln above " + AppContext.BaseDirectory);
    }

    /// <summary>A tiny random Q8_0 model with the 4k-token BPE of the llama.cpp fixtures.</summary>
    private static string WriteTinyModel(string dir)
    {
        string path = Path.Combine(dir, "tiny.gguf");
        var vocab = GgufTokenizer.FromTokenizerJson(Path.Combine(RepoRoot(), "tests", "fixtures", "llamacpp", "bpe4k.tokenizer.json.gz"));
        TestModelWriter.Write(path, "llama", GgmlType.Q8_0, 7, vocab, TestModelShape.Tiny);
        return path;
    }

    [Fact]
    public void JsonHasTheDocumentedFieldsAndNullPeerWithoutLlamaCpp()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"loom-bench-decode-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string model = WriteTinyModel(dir);
            var (code, stdout, console) = Run("bench", "decode", "--model", model, "--threads", "1", "--pp", "8", "--tg", "4", "--reps", "1", "--no-llamacpp", "--json");
            Assert.True(code == 0, console);
            using var doc = JsonDocument.Parse(stdout);
            var names = doc.RootElement.EnumerateObject().Select(p => p.Name).ToArray();
            Assert.Equal(["pp_tokens_per_s", "tg_tokens_per_s", "llamacpp_pp_tokens_per_s", "llamacpp_tg_tokens_per_s", "threads", "triad_gb_per_s"], names);
            Assert.True(doc.RootElement.GetProperty("pp_tokens_per_s").GetDouble() > 0);
            Assert.True(doc.RootElement.GetProperty("tg_tokens_per_s").GetDouble() > 0);
            Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("llamacpp_pp_tokens_per_s").ValueKind);
            Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("llamacpp_tg_tokens_per_s").ValueKind);
            Assert.Equal(1, doc.RootElement.GetProperty("threads").GetInt32());

            // The table form names both tests and says why there is no peer.
            var (code2, _, table) = Run("bench", "decode", "--model", model, "--threads", "1", "--pp", "8", "--tg", "4", "--reps", "1", "--no-llamacpp");
            Assert.Equal(0, code2);
            Assert.Contains("pp8", table);
            Assert.Contains("tg4", table);
            Assert.Contains("--no-llamacpp", table);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Theory]
    [InlineData("--threads", "0", "--threads")]
    [InlineData("--pp", "0", "--pp")]
    [InlineData("--tg", "-3", "--tg")]
    [InlineData("--reps", "0", "--reps")]
    public void BadNumbersAreOneLineErrors(string flag, string value, string named)
    {
        string model = Path.Combine(RepoRoot(), "tests", "fixtures", "llamacpp", "prompt.txt");   // exists; never loaded
        var (code, _, console) = Run("bench", "decode", "--model", model, flag, value);
        Assert.NotEqual(0, code);
        Assert.Contains(named, console);
        Assert.DoesNotContain("   at ", console);
    }

    [Fact]
    public void MissingOrBadModelIsAOneLineError()
    {
        var (code, _, console) = Run("bench", "decode");
        Assert.NotEqual(0, code);
        Assert.Contains("--model", console);
        var (code2, _, console2) = Run("bench", "decode", "--model", "/nonexistent/m.gguf");
        Assert.NotEqual(0, code2);
        Assert.Contains("/nonexistent/m.gguf", console2);
        // A file that is not GGUF: the loader's error names it, no stack trace.
        string notGguf = Path.Combine(RepoRoot(), "tests", "fixtures", "llamacpp", "prompt.txt");
        var (code3, _, console3) = Run("bench", "decode", "--model", notGguf, "--no-llamacpp");
        Assert.NotEqual(0, code3);
        Assert.Contains("prompt.txt", console3);
        Assert.DoesNotContain("   at ", console3);
    }

    [Fact]
    public void LoomMeasurementRunsOnABatchedModel()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"loom-bench-decode-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            using var model = InferenceModel.Load(WriteTinyModel(dir));
            using var lm = model.CreateBatch(1, 16);
            var speed = DecodeBenchmark.RunLoom(lm, promptTokens: 16, genTokens: 8, reps: 2);
            Assert.True(speed.PromptTokensPerS > 0 && speed.GenTokensPerS > 0);
            Assert.Equal(0, lm.SlotLength(0));                                  // the cache is left empty
            Assert.Throws<ArgumentException>(() => DecodeBenchmark.RunLoom(lm, promptTokens: 32, genTokens: 8, reps: 1));   // longer than the cache
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void MedianAndBenchTokens()
    {
        Assert.Equal(2.0, LlamaCpp.Median([3.0, 1.0, 2.0]));
        Assert.Equal(2.5, LlamaCpp.Median([4.0, 1.0, 2.0, 3.0]));
        var tokens = LlamaCpp.BenchTokens(100, 50);
        Assert.Equal(tokens, LlamaCpp.BenchTokens(100, 50));
        Assert.All(tokens, t => Assert.InRange(t, 0, 49));
        Assert.True(tokens.Distinct().Count() > 20);
    }
}
