using System.Text.Json;
using Loom.Bench;

namespace Loom.Cli.Tests;

[Collection("console")]
public class BenchTrainTests
{
    private static string DataPath => CharCorpus.Locate(null) ?? throw new FileNotFoundException("data/corpus/moby-dick.txt.gz not found above the test directory");

    [Fact]
    public void CorpusFollowsTheMobyDickRule()
    {
        var c = CharCorpus.Load(DataPath);
        Assert.Equal(89, c.Vocab.Length);                 // data/README.md: 89 distinct characters
        Assert.Equal(1_212_036, c.Train.Length + c.Val.Length);
        Assert.Equal(1_090_832, c.Train.Length);          // floor(0.9 N)
        Assert.Contains(0x2014, c.Vocab);                 // non-ASCII characters (the em dash) are ids of their own
    }

    [Fact]
    public void PresetTrainsTwoStepsWithFiniteLoss()
    {
        var preset = TrainPreset.Find("nanogpt-cpu")!;
        Assert.Equal(344, preset.FfnDim);
        Assert.Equal(1024, TrainPreset.Find("nanogpt-small")!.FfnDim);
        var r = TrainBenchmark.Run(new TrainBenchOptions(preset, Warmup: 0, Steps: 2, Threads: 1), CharCorpus.Load(DataPath));
        Assert.True(double.IsFinite(r.FirstLoss) && double.IsFinite(r.LastLoss));
        Assert.InRange(r.FirstLoss, 4.0, 5.0);            // about ln 89 = 4.49 at initialisation
        Assert.True(r.TokensPerSecond > 0);
        Assert.Equal(803_072, r.Parameters);
    }

    [Fact]
    public void JsonWithoutTorchHasExactlyTheDocumentedFields()
    {
        var original = Console.Out;
        var sw = new StringWriter();
        Console.SetOut(sw);
        int code;
        try
        {
            var console = Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings { Out = new Spectre.Console.AnsiConsoleOutput(new StringWriter()) });
            code = Program.Run(["bench", "train", "--preset", "nanogpt-cpu", "--steps", "2", "--warmup", "0", "--threads", "1", "--no-torch", "--json"], console);
        }
        finally { Console.SetOut(original); }
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(sw.ToString());
        var names = doc.RootElement.EnumerateObject().Select(p => p.Name).ToArray();
        Assert.Equal(["preset", "threads", "loom_tokens_per_s", "torch_tokens_per_s", "ratio"], names);
        Assert.Equal("nanogpt-cpu", doc.RootElement.GetProperty("preset").GetString());
        Assert.Equal(1, doc.RootElement.GetProperty("threads").GetInt32());
        Assert.True(doc.RootElement.GetProperty("loom_tokens_per_s").GetDouble() > 0);
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("torch_tokens_per_s").ValueKind);
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("ratio").ValueKind);
    }

    [Fact]
    public void UnknownPresetIsAOneLineError()
    {
        int code = Program.Run(["bench", "train", "--preset", "gpt-5", "--no-torch"],
            Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings { Out = new Spectre.Console.AnsiConsoleOutput(new StringWriter()) }));
        Assert.NotEqual(0, code);
    }

    [Fact]
    public void TorchResultLineParses()
    {
        var r = TorchTrainBaseline.Parse("""{"torch_version": "1.13.0a0", "vocab": 89, "params": 803072, "threads": 2, "tokens_per_s": 5000.5, "mean_tokens_per_s": 4900.0, "first_loss": 4.5, "last_loss": 2.9}""");
        Assert.Equal(2, r.Threads);
        Assert.Equal(5000.5, r.TokensPerSecond);
        Assert.Null(r.ValLoss);
        Assert.Equal(803072L, r.Parameters);
        Assert.Equal(TorchTrainBaseline.CpuHasAvx512(), TorchTrainBaseline.Environment(1)["OPENBLAS_CORETYPE"] is not null);
    }
}
