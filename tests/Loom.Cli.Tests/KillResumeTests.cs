using System.Diagnostics;
using System.Text.Json;

namespace Loom.Cli.Tests;

/// <summary>
/// `loom train lm` killed with SIGKILL and resumed: the loss curve continues from the last checkpoint with the
/// same values as an uninterrupted run, and no checkpoint on disk is ever half-written.
/// </summary>
public class KillResumeTests
{
    private static readonly string LoomDll = Path.Combine(AppContext.BaseDirectory, "loom.dll");

    private static Process Start(string workDir, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = workDir, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(LoomDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["LOOM_THREADS"] = "1";
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    private static void RunToEnd(string workDir, params string[] args)
    {
        using var p = Start(workDir, args);
        Assert.True(p.WaitForExit(120_000), "loom train lm did not finish in 2 minutes");
        Assert.Equal(0, p.ExitCode);
    }

    private static List<(int Step, double Loss)> Losses(string dir) =>
        File.ReadAllLines(Path.Combine(dir, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement)
            .Select(e => (e.GetProperty("step").GetInt32(), e.GetProperty("loss").GetDouble())).ToList();

    [Fact]
    public void SigkillThenResumeContinuesTheSameLossCurve()
    {
        string root = Path.Combine(Path.GetTempPath(), "loom-kill-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        try
        {
            File.WriteAllText(Path.Combine(root, "text.txt"),
                string.Concat(Enumerable.Range(0, 300).Select(i => $"verse {i % 23}: and the whale {i % 7} swam over the grey sea.\n")));
            File.WriteAllText(Path.Combine(root, "config.json"), """
                {"model": {"vocab_size": 300, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
                           "num_key_value_heads": 2, "intermediate_size": 64, "max_position_embeddings": 32},
                 "training": {"steps": 240, "batch_size": 2, "context": 16, "lr": 0.003, "warmup_steps": 2,
                              "eval_every": 20, "eval_batches": 1, "checkpoint_every": 5, "vocab_size": 300}}
                """);
            string[] common = ["train", "lm", "--config", "config.json", "--data", "text.txt", "--out"];
            RunToEnd(root, [.. common, "whole"]);

            // Kill as soon as a checkpoint exists past the second one: mid-step or even mid-write. The 240 steps leave
            // the polling loop seconds, not milliseconds, to see it on a loaded machine before training ends.
            string ckdir = Path.Combine(root, "killed", "checkpoints");
            using (var p = Start(root, [.. common, "killed"]))
            {
                var sw = Stopwatch.StartNew();
                while (!(Directory.Exists(ckdir) && Directory.GetFiles(ckdir, "step-*.safetensors").Length > 0
                         && Directory.GetFiles(ckdir, "step-*.safetensors").Max()!.CompareTo(Path.Combine(ckdir, "step-0000010")) > 0))
                {
                    Assert.False(p.HasExited, "training ended before it could be killed");
                    Assert.True(sw.Elapsed < TimeSpan.FromMinutes(2), "no checkpoint appeared");
                    Thread.Sleep(20);
                }
                p.Kill();   // SIGKILL
                p.WaitForExit();
            }
            Assert.False(File.Exists(Path.Combine(root, "killed", "model.safetensors")), "the killed run should not have finished");
            // Whatever the kill interrupted, every checkpoint file on disk is complete.
            foreach (var f in Directory.GetFiles(ckdir, "step-*.safetensors"))
                using (Loom.Formats.SafeTensorsFile.Open(f)) { }
            RunToEnd(root, [.. common, "killed", "--resume"]);

            var expected = Losses(Path.Combine(root, "whole"));
            var resumed = Losses(Path.Combine(root, "killed"));
            Assert.Equal(Enumerable.Range(1, 240), resumed.Select(r => r.Step));
            Assert.Equal(expected, resumed);
        }
        finally { Directory.Delete(root, true); }
    }
}
