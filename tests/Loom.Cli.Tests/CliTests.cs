namespace Loom.Cli.Tests;

[Collection("console")]
public class CliTests
{
    private static (int Code, string Output) Run(params string[] args)
    {
        var original = Console.Out;
        var sw = new StringWriter();
        Console.SetOut(sw);
        try
        {
            var console = Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings
            {
                Out = new Spectre.Console.AnsiConsoleOutput(sw), Ansi = Spectre.Console.AnsiSupport.No, ColorSystem = Spectre.Console.ColorSystemSupport.NoColors,
            });
            int code = Program.Run(args, console);
            return (code, sw.ToString());
        }
        finally { Console.SetOut(original); }
    }

    [Fact]
    public void HelpListsEveryVerb()
    {
        var (code, output) = Run("--help");
        Assert.Equal(0, code);
        foreach (var verb in new[] { "generate", "eval", "train", "data", "tokenizer", "env" }) Assert.Contains(verb, output);
    }

    /// <summary>Every command's help renders: a description with unescaped [ ] is read as console markup and fails.</summary>
    [Theory]
    [InlineData("generate")] [InlineData("eval")] [InlineData("train", "lm")] [InlineData("data", "tokenize")] [InlineData("env")]
    [InlineData("serve")] [InlineData("run")] [InlineData("chat")] [InlineData("logits")] [InlineData("perplexity")]
    [InlineData("convert")] [InlineData("make-test-model")] [InlineData("quantize")] [InlineData("info")]
    [InlineData("tokenizer", "train")] [InlineData("tokenizer", "encode")] [InlineData("tokenizer", "bench")] [InlineData("tokenizer", "gguf")]
    [InlineData("bench", "gemm")] [InlineData("bench", "quant")] [InlineData("bench", "serve")] [InlineData("bench", "train")] [InlineData("bench", "decode")]
    public void HelpOfEveryCommandRenders(params string[] command)
    {
        var (code, output) = Run([.. command, "--help"]);
        Assert.True(code == 0, $"'{string.Join(' ', command)} --help' exited {code}: {output}");
        Assert.Contains("USAGE", output);
        Assert.DoesNotContain("Error:", output);
        Assert.DoesNotContain("Could not find color or style", output);
    }

    [Fact]
    public void BadFlagsAndMissingFilesAreOneLineErrorsWithoutStackTraces()
    {
        var (code, output) = Run("eval", "--data", "/nonexistent/file.txt", "--model", "/nonexistent/model");
        Assert.NotEqual(0, code);
        Assert.Contains("nonexistent", output);
        Assert.DoesNotContain("   at ", output);
        var (code2, output2) = Run("generate", "--bogus-flag");
        Assert.NotEqual(0, code2);
        Assert.Contains("bogus-flag", output2);
        Assert.DoesNotContain("   at ", output2);
    }
    [Fact]
    public void InfoDescribesAGgufFileAndRejectsABadOneInOneLine()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"loom-info-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string p = Path.Combine(dir, "m.gguf");
            new Loom.Formats.GgufWriter()
                .Add("general.architecture", Loom.Formats.GgufValue.String("llama"))
                .Add("general.name", Loom.Formats.GgufValue.String("Tiny Test"))
                .Add("llama.context_length", Loom.Formats.GgufValue.UInt32(2048))
                .Add("llama.attention.head_count", Loom.Formats.GgufValue.UInt32(8))
                .Add("tokenizer.ggml.model", Loom.Formats.GgufValue.String("gpt2"))
                .Add("tokenizer.ggml.tokens", Loom.Formats.GgufValue.Array(new[] { "a", "b", "c" }))
                .Add("tokenizer.chat_template", Loom.Formats.GgufValue.String("{% for m in messages %}\n{{ m }}{% endfor %}"))
                .AddTensor("w", [64, 2], Loom.Formats.GgmlTypes.Q8_0, new byte[136])
                .AddTensor("n", [64], Loom.Formats.GgmlTypes.F32, new byte[256])
                .Save(p);
            var (code, output) = Run("info", p);
            Assert.Equal(0, code);
            foreach (var s in new[] { "llama", "Tiny Test", "192", "Q8_0", "136 bytes", "F32", "llama.context_length", "2048", "gpt2", "vocab size", "{% for m in messages %}" })
                Assert.Contains(s, output);
            string bad = Path.Combine(dir, "bad.gguf");
            File.WriteAllBytes(bad, [1, 2, 3, 4, 5, 6, 7, 8]);
            var (code2, raw2) = Run("info", bad);
            string output2 = System.Text.RegularExpressions.Regex.Replace(raw2, @"\s+", " ");   // the console may wrap the line
            Assert.NotEqual(0, code2);
            Assert.Contains("bad.gguf", output2);
            Assert.Contains("not a GGUF file", output2);
            Assert.DoesNotContain("   at ", output2);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
