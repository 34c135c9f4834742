using System.Text.Json;

namespace Loom.Cli.Tests;

[Collection("console")]
public sealed class InferenceCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("loom-infer-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private static string Root()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "Loom.sln"))) dir = dir.Parent;
        return dir!.FullName;
    }

    private static readonly string DefaultModel = Path.Combine(Root(), "models", "default");

    private static (int Code, string Output) Run(string? stdin, params string[] args)
    {
        var originalOut = Console.Out;
        var originalIn = Console.In;
        var sw = new StringWriter();
        Console.SetOut(sw);
        if (stdin != null) Console.SetIn(new StringReader(stdin));
        try
        {
            var console = Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings
            {
                Out = new Spectre.Console.AnsiConsoleOutput(sw), Ansi = Spectre.Console.AnsiSupport.No, ColorSystem = Spectre.Console.ColorSystemSupport.NoColors,
            });
            int code = Program.Run(args, console);
            return (code, sw.ToString());
        }
        finally
        {
            Console.SetOut(originalOut);
            Console.SetIn(originalIn);
        }
    }

    private string TinyModel(string arch = "qwen2")
    {
        string path = Path.Combine(_dir, arch + ".gguf");
        var (code, output) = Run(null, "make-test-model", "--arch", arch, "--type", "Q8_0", "--seed", "3", "--tokenizer",
            Path.Combine(DefaultModel, "tokenizer.json"), "--shape", "tiny", "--out", path);
        Assert.True(code == 0, output);
        return path;
    }

    [Fact]
    public void LogitsPrintsTokensAndOneFullRowOrOneRowPerPosition()
    {
        string model = TinyModel();
        var (code, output) = Run(null, "logits", "--model", model, "--prompt", "Hello there, world", "--json");
        Assert.True(code == 0, output);
        using var doc = JsonDocument.Parse(output);
        var root = doc.RootElement;
        Assert.Equal(["tokens", "logits"], root.EnumerateObject().Select(p => p.Name));
        int tokens = root.GetProperty("tokens").GetArrayLength();
        Assert.True(tokens >= 3);
        Assert.Equal(4096, root.GetProperty("logits").GetArrayLength());
        Assert.All(root.GetProperty("logits").EnumerateArray(), v => Assert.True(float.IsFinite(v.GetSingle())));

        var (code2, output2) = Run(null, "logits", "--model", model, "--prompt", "Hello there, world", "--json", "--all-positions");
        Assert.True(code2 == 0, output2);
        using var doc2 = JsonDocument.Parse(output2);
        var rows = doc2.RootElement.GetProperty("logits");
        Assert.Equal(tokens, rows.GetArrayLength());
        Assert.All(rows.EnumerateArray(), r => Assert.Equal(4096, r.GetArrayLength()));
        // The last row of --all-positions is the default output.
        Assert.Equal(root.GetProperty("logits").EnumerateArray().Select(v => v.GetSingle()), rows[tokens - 1].EnumerateArray().Select(v => v.GetSingle()));
    }

    [Fact]
    public void RunStreamsAGreedyContinuationDeterministically()
    {
        string model = TinyModel("gemma2");
        var (code, a) = Run(null, "run", "--model", model, "--prompt", "Once upon a time", "--temperature", "0", "-n", "8");
        Assert.True(code == 0, a);
        Assert.StartsWith("Once upon a time", a);
        Assert.True(a.TrimEnd().Length > "Once upon a time".Length);
        var (_, b) = Run(null, "run", "--model", model, "--prompt", "Once upon a time", "--temperature", "0", "-n", "8");
        Assert.Equal(a, b);
        var (code3, c) = Run(null, "run", "--model", DefaultModel, "--prompt", "The", "-n", "4", "--seed", "5", "--stats");
        Assert.True(code3 == 0, c);
        Assert.Contains("tokens/s", c);
    }

    [Fact]
    public void ChatTakesTurnsFromStandardInputWithResetAndSystemCommands()
    {
        string input = "Hello\n/system You are terse.\nHow are you?\n/reset\nAgain\n/exit\nignored after exit\n";
        var (code, output) = Run(input, "chat", "--model", DefaultModel, "-n", "6", "--temperature", "0");
        Assert.True(code == 0, output);
        Assert.Contains("(system message set)", output);
        Assert.Contains("(conversation reset)", output);
        Assert.True(output.Split('\n').Length >= 5, output);
    }

    [Fact]
    public void PerplexityScoresTheSecondHalfOfEachChunk()
    {
        string text = Path.Combine(_dir, "text.txt");
        File.WriteAllText(text, string.Join(" ", Enumerable.Repeat("Once upon a time there was a little girl who lived in a village near the forest.", 12)));
        var (code, output) = Run(null, "perplexity", "--model", DefaultModel, "--file", text, "--ctx", "32", "--json");
        Assert.True(code == 0, output);
        using var doc = JsonDocument.Parse(output);
        var r = doc.RootElement;
        int chunks = r.GetProperty("chunks").GetInt32();
        Assert.True(chunks >= 2);
        Assert.Equal(chunks * (32 - 1 - 16), r.GetProperty("scored_tokens").GetInt32());
        double ppl = r.GetProperty("perplexity").GetDouble();
        Assert.Equal(Math.Exp(r.GetProperty("nll").GetDouble()), ppl, 6);
        // Repeated text is easy for the trained model: far below the vocabulary size.
        Assert.InRange(ppl, 1.0, 50.0);
        var (code2, output2) = Run(null, "perplexity", "--model", DefaultModel, "--file", text, "--ctx", "4096");
        Assert.NotEqual(0, code2);
        Assert.Contains("context", output2);
    }

    [Fact]
    public void ConvertWritesAGgufThatGivesTheFolderLogits()
    {
        string gguf = Path.Combine(_dir, "default.gguf");
        var (code, output) = Run(null, "convert", DefaultModel, gguf, "--type", "F32");
        Assert.True(code == 0, output);
        var (_, a) = Run(null, "logits", "--model", DefaultModel, "--prompt", "Hi there", "--json");
        var (_, b) = Run(null, "logits", "--model", gguf, "--prompt", "Hi there", "--json");
        using var da = JsonDocument.Parse(a);
        using var db = JsonDocument.Parse(b);
        Assert.Equal(da.RootElement.GetProperty("tokens").ToString(), db.RootElement.GetProperty("tokens").ToString());
        var la = da.RootElement.GetProperty("logits").EnumerateArray().Select(v => v.GetSingle()).ToArray();
        var lb = db.RootElement.GetProperty("logits").EnumerateArray().Select(v => v.GetSingle()).ToArray();
        for (int i = 0; i < la.Length; i++) Assert.True(MathF.Abs(la[i] - lb[i]) < 1e-3f, $"logit {i}");
    }

    [Fact]
    public void BadArgumentsAndFilesAreOneLineErrors()
    {
        foreach (var args in new[]
        {
            new[] { "logits", "--model", DefaultModel, "--prompt", "x" },                       // --json missing
            new[] { "logits", "--model", "/nonexistent/m.gguf", "--prompt", "x", "--json" },
            new[] { "run", "--prompt", "x" },                                                   // --model missing
            new[] { "run", "--model", DefaultModel, "--prompt", "x", "--top-p", "2" },
            new[] { "make-test-model", "--arch", "mamba", "--tokenizer", "t.json", "--out", "x.gguf" },
            new[] { "convert", "/nonexistent/dir", Path.Combine(_dir, "x.gguf") },
        })
        {
            var (code, output) = Run(null, args);
            Assert.NotEqual(0, code);
            Assert.DoesNotContain("   at ", output);
            Assert.True(output.Trim().Length > 0);
        }
        string notGguf = Path.Combine(_dir, "junk.gguf");
        File.WriteAllText(notGguf, "this is not a model");
        var (c2, o2) = Run(null, "run", "--model", notGguf, "--prompt", "x");
        Assert.NotEqual(0, c2);
        Assert.Contains("junk.gguf", o2);
    }
}
