using System.Text.Json.Nodes;
using Loom.Nn;
using Loom.Tensors;

namespace Loom.Formats.Tests;

public class TrainingCheckpointTests
{
    private static float[] Weights(Module m) => m.Parameters().SelectMany(p => p.ToArray()).ToArray();

    [Fact]
    public void ResumedRunIsBitIdenticalToUninterruptedRun()
    {
        using var dir = new TempDir();
        float[] reference, referenceWeights, referenceEma;
        using (var run = new TinyTraining(seed: 1))
        {
            reference = Enumerable.Range(0, 20).Select(_ => run.TrainStep()).ToArray();
            referenceWeights = Weights(run.Model);
            referenceEma = run.Model.NamedParameters().SelectMany(p => run.Ema.Shadow(p.Name).ToArray()).ToArray();
        }
        Assert.True(reference[^1] < reference[0], $"training should reduce the loss ({reference[0]} -> {reference[^1]})");

        string path = dir.File("step10.safetensors");
        using (var first = new TinyTraining(seed: 1))
        {
            for (int s = 0; s < 10; s++) Assert.Equal(BitConverter.SingleToInt32Bits(reference[s]), BitConverter.SingleToInt32Bits(first.TrainStep()));
            var c = first.Checkpoint();
            c.User["run"] = "resume-test";
            c.Save(path);
        }

        // New objects with different weights and RNG seeds: everything must come from the file.
        using var second = new TinyTraining(seed: 99);
        second.Restore(path);
        Assert.Equal(10, second.Step);
        Assert.Equal(10, second.Optimizer.StepCount);
        var resumed = Enumerable.Range(0, 10).Select(_ => second.TrainStep()).ToArray();
        for (int s = 0; s < 10; s++)
            Assert.True(BitConverter.SingleToInt32Bits(reference[10 + s]) == BitConverter.SingleToInt32Bits(resumed[s]),
                $"step {11 + s}: resumed loss {resumed[s]:R}, uninterrupted {reference[10 + s]:R}");
        Assert.Equal(referenceWeights, Weights(second.Model));
        Assert.Equal(referenceEma, second.Model.NamedParameters().SelectMany(p => second.Ema.Shadow(p.Name).ToArray()).ToArray());
    }

    [Fact]
    public void UserMetadataStepAndRngStatesRoundTrip()
    {
        using var dir = new TempDir();
        using var run = new TinyTraining(seed: 3);
        run.TrainStep();
        var rng = new Rng(5);
        rng.NextNormal(); // leaves a spare normal in the state
        var c = run.Checkpoint();
        c.Rngs["extra"] = rng;
        c.Step = 42;
        c.User["config"] = new JsonObject { ["layers"] = 2, ["name"] = "tiny" };
        c.Save(dir.File("a.safetensors"));

        var other = new Rng(6);
        var d = new TrainingCheckpoint(run.Model, run.Optimizer, run.Ema);
        d.Rngs["extra"] = other;
        d.Load(dir.File("a.safetensors"));
        Assert.Equal(42, d.Step);
        Assert.Equal("tiny", (string?)d.User["config"]!["name"]);
        Assert.Equal(rng.GetState(), other.GetState());
        Assert.Equal(rng.NextNormal(), other.NextNormal());
    }

    [Fact]
    public void MismatchedModelIsRejectedByNameAndNothingChanges()
    {
        using var dir = new TempDir();
        using var run = new TinyTraining(seed: 1);
        run.TrainStep();
        run.Checkpoint().Save(dir.File("c.safetensors"));

        var wide = new TinyMlp(new Rng(2), hidden: 9);
        using var opt = new AdamW(wide);
        var before = Weights(wide);
        var e = Assert.Throws<ModelFileException>(() => new TrainingCheckpoint(wide, opt).Load(dir.File("c.safetensors")));
        Assert.Contains("c.safetensors", e.Message);
        Assert.Contains("model.fc1.weight", e.Message);
        Assert.Contains("(8, 3)", e.Message);
        Assert.Equal(before, Weights(wide));

        // Same model, but an optimizer with different hyperparameters: rejected before the model is touched.
        var same = new TinyMlp(new Rng(2));
        using var sgd = new Sgd(same, lr: 0.1);
        var before2 = Weights(same);
        e = Assert.Throws<ModelFileException>(() => new TrainingCheckpoint(same, sgd).Load(dir.File("c.safetensors")));
        Assert.Contains("AdamW", e.Message);
        Assert.Equal(before2, Weights(same));

        // A registered RNG the file does not have.
        var c = new TrainingCheckpoint(same);
        c.Rngs["dropout"] = new Rng(1);
        e = Assert.Throws<ModelFileException>(() => c.Load(dir.File("c.safetensors")));
        Assert.Contains("rng.dropout", e.Message);
    }

    [Fact]
    public void PlainSafetensorsIsNotACheckpoint()
    {
        using var dir = new TempDir();
        using var t = Tensor.Zeros(2);
        SafeTensorsFile.Save(dir.File("w.safetensors"), new Dictionary<string, Tensor> { ["w"] = t });
        var e = Assert.Throws<ModelFileException>(() => new TrainingCheckpoint(new TinyMlp(new Rng(1))).Load(dir.File("w.safetensors")));
        Assert.Contains("not a Loom training checkpoint", e.Message);
    }

    [Fact]
    public void RotationKeepsTheNewestN()
    {
        using var dir = new TempDir();
        using var run = new TinyTraining(seed: 1);
        var c = run.Checkpoint();
        foreach (long step in new long[] { 5, 10, 100, 20, 1000 })
        {
            c.Step = step;
            CheckpointRotation.Save(c, dir.Path, keepLast: 2);
        }
        var left = CheckpointRotation.List(dir.Path).Select(x => x.Step).ToArray();
        Assert.Equal([100L, 1000L], left);
        Assert.EndsWith("ckpt-0000001000.safetensors", CheckpointRotation.Latest(dir.Path));
        Assert.Null(CheckpointRotation.Latest(dir.File("missing")));
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));
    }
}
