using Loom.Formats;
using Loom.Models.Gguf;

namespace Loom.Cli.Tests;

[Collection("console")]
public class TokenizerGgufCommandTests
{
    private static (int Code, string Output) Run(params string[] args)
    {
        var sw = new StringWriter();
        var console = Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings
        {
            Out = new Spectre.Console.AnsiConsoleOutput(sw), Ansi = Spectre.Console.AnsiSupport.No, ColorSystem = Spectre.Console.ColorSystemSupport.NoColors,
        });
        return (Program.Run(args, console), sw.ToString());
    }

    private static string Root()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "Loom.sln"))) dir = dir.Parent;
        return dir!.FullName;
    }

    [Fact]
    public void WritesAVocabOnlyGgufThatLoadsBack()
    {
        string outPath = Path.Combine(Path.GetTempPath(), $"loom-cli-qwen3-{Guid.NewGuid():N}.gguf");
        try
        {
            var (code, output) = Run("tokenizer", "gguf", "--tokenizer", Path.Combine(Root(), "data", "tokenizers", "qwen3"), "--out", outPath);
            Assert.Equal(0, code);
            Assert.Contains("pre qwen2", output.ReplaceLineEndings(" ").Replace("  ", " "));
            using var f = GgufFile.Open(outPath);
            Assert.Empty(f.Tensors);
            var tok = GgufTokenizer.Load(f);
            Assert.Equal(151669, tok.VocabSize);
            Assert.Equal("qwen2", tok.Vocab.Pre);
            Assert.Equal([tok.TokenToId("<|im_start|>")!.Value], tok.Encode("<|im_start|>"));
        }
        finally { File.Delete(outPath); }
    }

    [Fact]
    public void MissingTokenizerIsAOneLineError()
    {
        var (code, output) = Run("tokenizer", "gguf", "--tokenizer", "/nonexistent/tok.json", "--out", "/tmp/x.gguf");
        Assert.NotEqual(0, code);
        Assert.Contains("/nonexistent/tok.json", output);
        Assert.DoesNotContain("   at ", output);
        var (code2, output2) = Run("tokenizer", "gguf", "--out", "/tmp/x.gguf");
        Assert.NotEqual(0, code2);
        Assert.Contains("--tokenizer", output2);
    }
}
