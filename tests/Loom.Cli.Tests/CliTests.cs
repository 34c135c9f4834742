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
}
