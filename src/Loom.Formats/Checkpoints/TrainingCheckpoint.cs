using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Loom.Nn;
using Loom.Tensors;

namespace Loom.Formats;

/// <summary>
/// Everything a resumed run needs, in ONE safetensors file written atomically: the model's state dict
/// ("model.*"), the optimizer's moments ("optim.*") and the EMA's shadows ("ema.*") as tensors; the training
/// step, optimizer/EMA scalars, RNG states ("rng.&lt;name&gt;") and a user JSON object ("user") in __metadata__.
/// <see cref="Load"/> checks the whole file against the objects before changing any of them.
/// </summary>
public sealed class TrainingCheckpoint
{
    public const string FormatName = "loom.training-checkpoint";
    public const int FormatVersion = 1;
    private const string ModelPrefix = "model.", OptimPrefix = "optim.", EmaPrefix = "ema.", RngPrefix = "rng.";

    public Module Model { get; }
    public Optimizer? Optimizer { get; }
    public Ema? Ema { get; }

    /// <summary>Random generators saved and restored by name (data order, dropout, noise...).</summary>
    public Dictionary<string, Rng> Rngs { get; } = new(StringComparer.Ordinal);

    /// <summary>The training step (updates done so far); restored by <see cref="Load"/>.</summary>
    public long Step { get; set; }

    /// <summary>Small free-form metadata (run name, config, data position...), saved as JSON.</summary>
    public JsonObject User { get; set; } = new();

    public TrainingCheckpoint(Module model, Optimizer? optimizer = null, Ema? ema = null)
    {
        Model = model;
        Optimizer = optimizer;
        Ema = ema;
    }

    /// <summary>Writes the checkpoint atomically (a reader never sees a partial file).</summary>
    public void Save(string path)
    {
        if (Step < 0) throw new InvalidOperationException($"step {Step} is negative");
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var meta = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["format"] = FormatName,
            ["version"] = FormatVersion.ToString(CultureInfo.InvariantCulture),
            ["step"] = Step.ToString(CultureInfo.InvariantCulture),
            ["user"] = User.ToJsonString(),
        };
        foreach (var (n, t) in Model.StateDict()) tensors[ModelPrefix + n] = t;
        if (Optimizer != null) Add(Optimizer.StateDict(), OptimPrefix, tensors, meta);
        if (Ema != null) Add(Ema.StateDict(), EmaPrefix, tensors, meta);
        foreach (var (n, rng) in Rngs)
            meta[RngPrefix + n] = string.Join(",", rng.GetState().Select(w => w.ToString("x16", CultureInfo.InvariantCulture)));
        SafeTensorsFile.Save(path, tensors, meta);
    }

    private static void Add(NamedState state, string prefix, Dictionary<string, Tensor> tensors, Dictionary<string, string> meta)
    {
        foreach (var (n, t) in state.Tensors) tensors[prefix + n] = t;
        foreach (var (k, v) in state.Scalars) meta[prefix + k] = v;
    }

    /// <summary>
    /// Restores model, optimizer, EMA, RNGs, step and user metadata. Every name, shape and scalar is checked
    /// first; any problem throws <see cref="ModelFileException"/> naming the file and the entry, and leaves
    /// the objects unchanged.
    /// </summary>
    public void Load(string path)
    {
        using var file = SafeTensorsFile.Open(path);
        var meta = file.Metadata;
        string Meta(string key) => meta.TryGetValue(key, out var v) ? v : throw new ModelFileException(path, $"metadata '{key}' is missing");
        if (!meta.TryGetValue("format", out var format) || format != FormatName)
            throw new ModelFileException(path, $"not a Loom training checkpoint (metadata format is '{format ?? "missing"}', expected '{FormatName}')");
        if (Meta("version") != FormatVersion.ToString(CultureInfo.InvariantCulture))
            throw new ModelFileException(path, $"checkpoint version '{Meta("version")}' is not supported (this build reads {FormatVersion})");
        if (!long.TryParse(Meta("step"), NumberStyles.None, CultureInfo.InvariantCulture, out long step))
            throw new ModelFileException(path, $"metadata step '{Meta("step")}' is not a non-negative integer");
        var user = ParseUser(path, Meta("user"));

        var model = ModelTensors(path, file.Tensors);
        var optim = Optimizer == null ? null : Section(path, file, OptimPrefix, "optimizer");
        var ema = Ema == null ? null : Section(path, file, EmaPrefix, "EMA");
        foreach (var name in file.Tensors.Keys)
            if (!name.StartsWith(ModelPrefix, StringComparison.Ordinal) && !name.StartsWith(OptimPrefix, StringComparison.Ordinal) && !name.StartsWith(EmaPrefix, StringComparison.Ordinal))
                throw new ModelFileException(path, $"unexpected tensor '{name}' (not model., optim. or ema.)");
        try
        {
            if (optim != null) Optimizer!.ValidateStateDict(optim);
            if (ema != null) Ema!.ValidateStateDict(ema);
        }
        catch (ArgumentException e) { throw new ModelFileException(path, e.Message, e); }
        var rngStates = Rngs.Keys.ToDictionary(n => n, n => ParseRng(path, n, Meta(RngPrefix + n)), StringComparer.Ordinal);

        // Everything checked: now apply.
        Model.LoadStateDict(model);
        if (optim != null) Optimizer!.LoadStateDict(optim);
        if (ema != null) Ema!.LoadStateDict(ema);
        foreach (var (n, s) in rngStates) Rngs[n].SetState(s);
        Step = step;
        User = user;
    }

    private Dictionary<string, Tensor> ModelTensors(string path, IReadOnlyDictionary<string, Tensor> all)
    {
        // Model order first, so the first reported problem is the first mismatched layer.
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (n, mine) in Model.StateDict())
        {
            if (!all.TryGetValue(ModelPrefix + n, out var t)) throw new ModelFileException(path, $"tensor '{ModelPrefix}{n}' is missing");
            if (!Tensor.SameShape(t.Shape, mine.Shape))
                throw new ModelFileException(path, $"tensor '{ModelPrefix}{n}' has shape {Tensor.ShapeString(t.Shape)}, the model expects {Tensor.ShapeString(mine.Shape)}");
            result[n] = t;
        }
        foreach (var name in all.Keys)
            if (name.StartsWith(ModelPrefix, StringComparison.Ordinal) && !result.ContainsKey(name[ModelPrefix.Length..]))
                throw new ModelFileException(path, $"tensor '{name}' is not a parameter or buffer of the model");
        return result;
    }

    private static NamedState Section(string path, SafeTensorsFile file, string prefix, string what)
    {
        var s = new NamedState();
        foreach (var (k, v) in file.Metadata)
            if (k.StartsWith(prefix, StringComparison.Ordinal)) s.Scalars[k[prefix.Length..]] = v;
        foreach (var (k, t) in file.Tensors)
            if (k.StartsWith(prefix, StringComparison.Ordinal)) s.Tensors[k[prefix.Length..]] = t;
        if (s.Scalars.Count == 0) throw new ModelFileException(path, $"the checkpoint has no {what} state");
        return s;
    }

    private static ulong[] ParseRng(string path, string name, string text)
    {
        var parts = text.Split(',');
        var words = new ulong[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!ulong.TryParse(parts[i], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out words[i]))
                throw new ModelFileException(path, $"RNG state '{name}' is not a list of hex words");
        if (words.Length != 6) throw new ModelFileException(path, $"RNG state '{name}' has {words.Length} words, expected 6");
        return words;
    }

    private static JsonObject ParseUser(string path, string json)
    {
        try
        {
            return JsonNode.Parse(json) as JsonObject ?? throw new ModelFileException(path, "metadata 'user' is not a JSON object");
        }
        catch (JsonException e) { throw new ModelFileException(path, "metadata 'user' is not valid JSON: " + e.Message, e); }
    }
}
