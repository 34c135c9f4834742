using System.Text.Json;

namespace Loom.Cli.Tests;

/// <summary>`loom bench serve` against its own loopback server, and `loom serve`'s argument checks.</summary>
[Collection("console")]
public class ServeCommandTests
{
    private static (int Code, string Out, string Console) Run(params string[] args)
    {
        var original = Console.Out;
        var stdout = new StringWriter();
        var shown = new StringWriter();
        Console.SetOut(stdout);
        int code;
        try
        {
            var console = Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings { Out = new Spectre.Console.AnsiConsoleOutput(shown) });
            code = Program.Run(args, console);
        }
        finally { Console.SetOut(original); }
        return (code, stdout.ToString(), shown.ToString());
    }

    [Fact]
    public void BenchServeJsonHasTheDocumentedFields()
    {
        var (code, stdout, shown) = Run("bench", "serve", "--clients", "2", "--requests", "4", "--max-tokens", "4", "--json");
        Assert.True(code == 0, shown + stdout);
        using var doc = JsonDocument.Parse(stdout);
        var r = doc.RootElement;
        foreach (var name in new[] { "clients", "requests", "errors", "requests_per_s", "tokens_per_s", "ttft_p50_ms", "ttft_p99_ms", "latency_p50_ms", "latency_p99_ms" })
            Assert.True(r.TryGetProperty(name, out _), $"missing {name} in {stdout}");
        Assert.Equal(2, r.GetProperty("clients").GetInt32());
        Assert.Equal(4, r.GetProperty("requests").GetInt32());
        Assert.Equal(0, r.GetProperty("errors").GetInt32());
        Assert.True(r.GetProperty("tokens_per_s").GetDouble() > 0);
        Assert.True(r.GetProperty("latency_p99_ms").GetDouble() >= r.GetProperty("latency_p50_ms").GetDouble());
    }

    [Theory]
    [InlineData("serve", "--parallel", "0")]
    [InlineData("serve", "--port", "70000")]
    [InlineData("serve", "--ctx-size", "-1")]
    [InlineData("bench", "serve", "--clients", "0")]
    [InlineData("bench", "serve", "--url", "ftp://x")]
    public void BadArgumentsAreOneLineErrors(params string[] args)
    {
        var (code, _, shown) = Run(args);
        Assert.NotEqual(0, code);
        Assert.Contains("--", shown);
        Assert.DoesNotContain("   at ", shown);
    }

    [Fact]
    public void MissingModelIsAnError()
    {
        var (code, _, shown) = Run("serve", "--model", "/nonexistent/model", "--port", "0");
        Assert.Equal(1, code);
        Assert.Contains("/nonexistent/model", shown);
    }
}
