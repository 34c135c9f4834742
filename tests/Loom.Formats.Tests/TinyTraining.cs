using Loom.Nn;
using Loom.Tensors;

namespace Loom.Formats.Tests;

/// <summary>A small MLP with a y = h + h*h nonlinearity, built only from F ops that exist today.</summary>
internal sealed class TinyMlp : Module
{
    public Linear Fc1 { get; }
    public Linear Fc2 { get; }

    public TinyMlp(Rng rng, int inputs = 3, int hidden = 8)
    {
        Fc1 = RegisterModule("fc1", new Linear(inputs, hidden, bias: true, rng));
        Fc2 = RegisterModule("fc2", new Linear(hidden, 1, bias: true, rng));
    }

    public Tensor Forward(Tensor x)
    {
        var h = Fc1.Forward(x);
        return Fc2.Forward(F.Add(h, F.Mul(h, h)));
    }
}

/// <summary>
/// A complete training set-up (model, AdamW with a no-decay set, warm-up + cosine, clipping, EMA, a data-order
/// RNG and an input-noise RNG) whose runs must be reproducible to the bit, across a checkpoint.
/// </summary>
internal sealed class TinyTraining : IDisposable
{
    public const int Samples = 64, Inputs = 3, Batch = 7;
    private readonly float[] _x = new float[Samples * Inputs];
    private readonly float[] _t = new float[Samples];

    public TinyMlp Model { get; }
    public AdamW Optimizer { get; }
    public Ema Ema { get; }
    public LrSchedule Schedule { get; } = new(peakLr: 3e-2, warmupSteps: 4, totalSteps: 20, minLr: 3e-3);
    public Rng DataOrder { get; }
    public Rng Noise { get; }
    public long Step { get; private set; }

    /// <summary><paramref name="seed"/> sets the initial weights and RNGs; the dataset is always the same.</summary>
    public TinyTraining(ulong seed)
    {
        var data = new Rng(12345);
        data.FillNormal(_x);
        for (int i = 0; i < Samples; i++)
            _t[i] = 0.5f * _x[i * 3] - _x[i * 3 + 1] * _x[i * 3 + 2] + 0.1f * (float)data.NextNormal();
        Model = new TinyMlp(new Rng(seed));
        Optimizer = new AdamW(Model, lr: 0, weightDecay: 0.05, noDecay: ["fc1.bias", "fc2.bias"]);
        Ema = new Ema(Model, decay: 0.9, warmup: true);
        DataOrder = new Rng(seed + 1);
        Noise = new Rng(seed + 2);
    }

    /// <summary>Checkpoint wiring: every piece of state the run needs.</summary>
    public TrainingCheckpoint Checkpoint()
    {
        var c = new TrainingCheckpoint(Model, Optimizer, Ema) { Step = Step };
        c.Rngs["data"] = DataOrder;
        c.Rngs["noise"] = Noise;
        return c;
    }

    public void Restore(string path)
    {
        var c = Checkpoint();
        c.Load(path);
        Step = c.Step;
    }

    /// <summary>One optimizer step; returns the loss before the update.</summary>
    public float TrainStep()
    {
        using var scope = new TensorScope();
        Optimizer.LearningRate = Schedule.At(Step);
        var xb = new float[Batch * Inputs];
        var tb = new float[Batch];
        for (int b = 0; b < Batch; b++)
        {
            int i = DataOrder.NextInt(Samples);
            tb[b] = _t[i];
            for (int k = 0; k < Inputs; k++) xb[b * Inputs + k] = _x[i * Inputs + k] + 0.01f * (float)Noise.NextNormal();
        }
        var x = Tensor.FromArray(xb, Batch, Inputs);
        var t = Tensor.FromArray(tb, Batch, 1);
        var diff = F.Sub(Model.Forward(x), t);
        var loss = F.Mean(F.Mul(diff, diff));
        float value = loss.ToScalar();
        Autograd.Backward(loss);
        GradClip.ClipGradNorm(Model.Parameters(), maxNorm: 0.5);
        Optimizer.Step();
        Optimizer.ZeroGrad();
        Ema.Update();
        Step++;
        return value;
    }

    public void Dispose()
    {
        Optimizer.Dispose();
        Ema.Dispose();
        foreach (var p in Model.Parameters()) p.Dispose();
    }
}
