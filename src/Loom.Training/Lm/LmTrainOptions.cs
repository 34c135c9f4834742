using System.Text.Json;
using System.Text.Json.Serialization;
using Loom.Models.Llama;

namespace Loom.Training.Lm;

/// <summary>Hyper-parameters of a language-model training run (the "training" object of a config file).</summary>
public sealed record LmTrainOptions
{
    [JsonPropertyName("steps")] public int Steps { get; init; } = 1000;
    [JsonPropertyName("batch_size")] public int Batch { get; init; } = 16;
    [JsonPropertyName("context")] public int Context { get; init; } = 256;
    [JsonPropertyName("grad_accum")] public int GradAccum { get; init; } = 1;
    [JsonPropertyName("lr")] public double Lr { get; init; } = 1e-3;
    [JsonPropertyName("min_lr")] public double MinLr { get; init; } = 1e-4;
    [JsonPropertyName("warmup_steps")] public int Warmup { get; init; } = 100;
    [JsonPropertyName("weight_decay")] public double WeightDecay { get; init; } = 0.1;
    [JsonPropertyName("beta1")] public double Beta1 { get; init; } = 0.9;
    [JsonPropertyName("beta2")] public double Beta2 { get; init; } = 0.95;
    [JsonPropertyName("grad_clip")] public double GradClip { get; init; } = 1.0;
    [JsonPropertyName("eval_every")] public int EvalEvery { get; init; } = 100;
    [JsonPropertyName("eval_batches")] public int EvalBatches { get; init; } = 10;
    [JsonPropertyName("checkpoint_every")] public int CheckpointEvery { get; init; } = 100;
    [JsonPropertyName("keep_checkpoints")] public int KeepCheckpoints { get; init; } = 2;
    [JsonPropertyName("seed")] public ulong Seed { get; init; } = 1337;
    [JsonPropertyName("vocab_size")] public int TokenizerVocab { get; init; } = 4096;
    [JsonPropertyName("val_fraction")] public double ValFraction { get; init; } = 0.01;

    public void Validate(string source)
    {
        void Pos(double v, string name) { if (!(v > 0)) throw new LlamaConfigException(source, "training." + name, $"must be positive, got {v}"); }
        Pos(Steps, "steps"); Pos(Batch, "batch_size"); Pos(Context, "context"); Pos(GradAccum, "grad_accum"); Pos(Lr, "lr");
        Pos(EvalEvery, "eval_every"); Pos(EvalBatches, "eval_batches"); Pos(CheckpointEvery, "checkpoint_every");
        if (MinLr < 0 || MinLr > Lr) throw new LlamaConfigException(source, "training.min_lr", $"must be in [0, lr], got {MinLr}");
        if (Warmup < 0) throw new LlamaConfigException(source, "training.warmup_steps", "must be >= 0");
        if (ValFraction is <= 0 or >= 0.5) throw new LlamaConfigException(source, "training.val_fraction", "must be in (0, 0.5)");
        if (TokenizerVocab < 260) throw new LlamaConfigException(source, "training.vocab_size", "must be at least 260 (256 bytes + specials)");
    }
}

/// <summary>A training config file: {"model": {Hugging Face Llama config}, "training": {...}}.</summary>
public sealed record LmRunConfig(LlamaConfig Model, LmTrainOptions Training)
{
    public static LmRunConfig Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: config file not found", path);
        var text = File.ReadAllText(path);
        JsonDocument doc;
        try { doc = JsonDocument.Parse(text); }
        catch (JsonException e) { throw new LlamaConfigException(path, "(json)", e.Message); }
        using (doc)
        {
            if (!doc.RootElement.TryGetProperty("model", out var m)) throw new LlamaConfigException(path, "model", "is missing");
            var model = LlamaConfig.FromJson(m.GetRawText(), path);
            var training = new LmTrainOptions();
            if (doc.RootElement.TryGetProperty("training", out var t))
            {
                try { training = t.Deserialize<LmTrainOptions>() ?? training; }
                catch (JsonException e) { throw new LlamaConfigException(path, "training" + (e.Path ?? "").TrimStart('$'), e.Message); }
            }
            training.Validate(path);
            if (training.Context > model.MaxSeqLen)
                throw new LlamaConfigException(path, "training.context", $"{training.Context} is longer than the model's max_position_embeddings {model.MaxSeqLen}");
            return new LmRunConfig(model, training);
        }
    }
}
