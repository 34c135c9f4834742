using System.Text.Json;
using Loom.Formats;
using Loom.Models.Llama;
using Loom.Text;
using Loom.Training.Lm;

namespace Loom.Training.Tests;

public class LmTrainerTests
{
    private sealed class Killed : Exception;

    private static (LmRunConfig Cfg, BpeTokenizer Tok, int[] Train, int[] Val) Setup()
    {
        string text = string.Concat(Enumerable.Range(0, 200).Select(i => $"line {i % 17}: the quick brown fox {i % 5} jumps over the lazy dog.\n"));
        var tok = LmData.TrainTokenizer([text], 300);
        var (train, val) = LmData.Encode(tok, [text], 0.1);
        var model = new LlamaConfig { VocabSize = tok.VocabSize, Dim = 32, Layers = 2, Heads = 4, KvHeads = 2, FfnDim = 64, MaxSeqLen = 32 };
        var training = new LmTrainOptions { Steps = 10, Batch = 2, Context = 16, Lr = 3e-3, MinLr = 3e-4, Warmup = 2, EvalEvery = 5, EvalBatches = 2, CheckpointEvery = 4, KeepCheckpoints = 2 };
        return (new LmRunConfig(model, training), tok, train, val);
    }

    private static List<(int Step, double Loss)> Losses(string dir) =>
        File.ReadAllLines(Path.Combine(dir, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement)
            .Select(e => (e.GetProperty("step").GetInt32(), e.GetProperty("loss").GetDouble())).ToList();

    [Fact]
    public void AKilledRunResumesFromItsLastCheckpointWithTheSameLosses()
    {
        var (cfg, tok, train, val) = Setup();
        string a = TempDir(), b = TempDir();
        try
        {
            new LmTrainer(a, cfg, tok, train, val).Run(false, null, CancellationToken.None);
            // Die abruptly after step 6: the checkpoint of step 4 is the last one on disk.
            Assert.Throws<Killed>(() => new LmTrainer(b, cfg, tok, train, val).Run(false, p => { if (p.Step == 6) throw new Killed(); }, CancellationToken.None));
            Assert.Equal(["step-0000004.safetensors"], Directory.GetFiles(Path.Combine(b, LmTrainer.CheckpointDir)).Select(Path.GetFileName));
            Assert.Empty(Directory.GetFiles(Path.Combine(b, LmTrainer.CheckpointDir), "*.tmp"));
            new LmTrainer(b, cfg, tok, train, val).Run(true, null, CancellationToken.None);
            var expected = Losses(a);
            var resumed = Losses(b);
            Assert.Equal(Enumerable.Range(1, 10), resumed.Select(r => r.Step));   // no duplicated or missing steps
            Assert.Equal(expected, resumed);
            Assert.True(File.Exists(Path.Combine(b, "loss.svg")));
            var (m, _) = ModelFolder.Load(b);
            Assert.Equal(cfg.Model.VocabSize, m.Config.VocabSize);
            Assert.True(expected[^1].Loss < expected[0].Loss, "loss should fall in 10 steps");
        }
        finally { Directory.Delete(a, true); Directory.Delete(b, true); }
    }

    [Fact]
    public void EmptyAndBinaryDataFilesAreClearErrors()
    {
        string dir = TempDir();
        try
        {
            string empty = Path.Combine(dir, "empty.txt"), binary = Path.Combine(dir, "bin.txt");
            File.WriteAllBytes(empty, []);
            File.WriteAllBytes(binary, [1, 2, 0, 0, 5, 0]);
            var e1 = Assert.Throws<ModelFileException>(() => LmData.ReadText(empty));
            Assert.Contains("empty", e1.Message);
            var e2 = Assert.Throws<ModelFileException>(() => LmData.ReadText(binary));
            Assert.Contains("binary", e2.Message);
            Assert.Throws<FileNotFoundException>(() => LmData.ListTextFiles([Path.Combine(dir, "nope")]));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void ConfigErrorsNameTheField()
    {
        string dir = TempDir();
        try
        {
            string p = Path.Combine(dir, "c.json");
            File.WriteAllText(p, "{\"model\": {\"vocab_size\": 300, \"hidden_size\": 32, \"num_hidden_layers\": 1, \"num_attention_heads\": 4, \"num_key_value_heads\": 4, \"intermediate_size\": 64, \"max_position_embeddings\": 16}, \"training\": {\"context\": 32}}");
            var e = Assert.Throws<LlamaConfigException>(() => LmRunConfig.Load(p));
            Assert.Contains("training.context", e.Message);
            File.WriteAllText(p, "{\"model\": {\"vocab_size\": 300}}");
            Assert.Contains("hidden_size", Assert.Throws<LlamaConfigException>(() => LmRunConfig.Load(p)).Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    private static string TempDir()
    {
        string d = Path.Combine(Path.GetTempPath(), "loom-train-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(d);
        return d;
    }
}
