using Loom.Tensors;

namespace Loom.Nn;

/// <summary>
/// Base of the optimizers: a fixed list of named F32 parameters, per-parameter state tensors allocated once
/// (so a step allocates nothing), a learning rate that may change every step, and a state dict for checkpoints.
/// Parameters without a gradient are skipped by <see cref="Step"/>, as in PyTorch.
/// </summary>
public abstract class Optimizer : IDisposable
{
    private readonly string[] _names;
    private readonly Tensor[] _params;
    private readonly long[] _steps;
    private bool _disposed;

    /// <summary>Learning rate used by the next <see cref="Step"/> (double, like PyTorch's Python float).</summary>
    public double LearningRate { get; set; }

    /// <summary>Number of <see cref="Step"/> calls so far (restored by <see cref="LoadStateDict"/>).</summary>
    public long StepCount { get; private set; }

    public IReadOnlyList<Tensor> Parameters => _params;

    public IReadOnlyList<string> ParameterNames => _names;

    /// <summary>Short type name saved in the state dict ("AdamW", "Sgd").</summary>
    public abstract string Kind { get; }

    protected Optimizer(IEnumerable<(string Name, Tensor Parameter)> parameters, double learningRate)
    {
        var list = parameters.ToList();
        var seenNames = new HashSet<string>(StringComparer.Ordinal);
        var seenTensors = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var (name, p) in list)
        {
            if (!seenNames.Add(name)) throw new ArgumentException($"parameter name '{name}' appears twice");
            if (!seenTensors.Add(p)) throw new ArgumentException($"parameter '{name}' is the same tensor as an earlier one");
            if (p.DType != DType.F32 || !p.IsContiguous)
                throw new ArgumentException($"parameter '{name}' must be a contiguous F32 tensor, got {p}");
        }
        if (learningRate < 0 || !double.IsFinite(learningRate)) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "learning rate must be finite and >= 0");
        _names = list.Select(x => x.Name).ToArray();
        _params = list.Select(x => x.Parameter).ToArray();
        _steps = new long[_params.Length];
        LearningRate = learningRate;
    }

    /// <summary>Times parameter <paramref name="index"/> has been updated (it differs from StepCount if it sometimes had no gradient).</summary>
    public long ParameterStep(int index) => _steps[index];

    /// <summary>Applies one update to every parameter that has a gradient.</summary>
    public void Step()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        StepCount++;
        for (int i = 0; i < _params.Length; i++)
        {
            var p = _params[i];
            var g = p.Grad;
            if (g == null) continue;
            if (g.DType != DType.F32 || !g.IsContiguous || !Tensor.SameShape(g.Shape, p.Shape))
                throw new InvalidOperationException($"gradient of '{_names[i]}' must be a contiguous F32 tensor of shape {Tensor.ShapeString(p.Shape)}, got {g}");
            _steps[i]++;
            Update(i, p, g, _steps[i]);
        }
    }

    /// <summary>Updates parameter <paramref name="index"/> in place; <paramref name="step"/> counts from 1.</summary>
    protected abstract void Update(int index, Tensor parameter, Tensor grad, long step);

    /// <summary>
    /// Clears gradients. Setting them to null (PyTorch's default) frees them; zeroing in place keeps the
    /// buffers, so the next backward pass accumulates without allocating.
    /// </summary>
    public void ZeroGrad(bool setToNone = true)
    {
        foreach (var p in _params)
        {
            if (p.Grad == null) continue;
            if (setToNone) { p.Grad.Dispose(); p.Grad = null; }
            else p.Grad.Span.Clear();
        }
    }

    /// <summary>Per-parameter state tensors as (suffix, one tensor per parameter); saved as "name.suffix".</summary>
    protected abstract IEnumerable<(string Suffix, Tensor[] PerParameter)> StateTensors();

    /// <summary>Hyperparameters saved in the state dict and compared on load.</summary>
    protected abstract IEnumerable<(string Key, double Value)> HyperParameters();

    /// <summary>The live state: moments as "param.suffix" tensors; kind, lr, step counts and hyperparameters as scalars.</summary>
    public NamedState StateDict()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var s = new NamedState();
        s.Set("kind", Kind);
        s.Set("lr", LearningRate);
        s.Set("step", StepCount);
        foreach (var (k, v) in HyperParameters()) s.Set(k, v);
        for (int i = 0; i < _params.Length; i++) s.Set(_names[i] + ".step", _steps[i]);
        foreach (var (suffix, per) in StateTensors())
            for (int i = 0; i < _params.Length; i++) s.Tensors[_names[i] + "." + suffix] = per[i];
        return s;
    }

    /// <summary>
    /// Checks <paramref name="state"/> against this optimizer without changing anything: same kind, same tensor
    /// names and shapes, parseable step counts and (with <paramref name="checkHyperParameters"/>) equal
    /// hyperparameters. Throws <see cref="ArgumentException"/> naming the offending entry.
    /// </summary>
    public void ValidateStateDict(NamedState state, bool checkHyperParameters = true)
    {
        var mine = StateDict();
        try
        {
            if (state.GetString("kind") != Kind) throw new ArgumentException($"optimizer state is for {state.GetString("kind")}, this optimizer is {Kind}");
            double lr = state.GetDouble("lr");
            if (lr < 0 || !double.IsFinite(lr)) throw new ArgumentException($"optimizer state has invalid lr {lr}");
            if (state.GetLong("step") < 0) throw new ArgumentException("optimizer state has a negative step");
            for (int i = 0; i < _params.Length; i++)
                if (state.GetLong(_names[i] + ".step") < 0) throw new ArgumentException($"optimizer state has a negative step for '{_names[i]}'");
            if (checkHyperParameters)
                foreach (var (k, v) in HyperParameters())
                {
                    double saved = state.GetDouble(k);
                    if (saved != v) throw new ArgumentException($"optimizer state has {k} = {saved}, this optimizer uses {v} (pass checkHyperParameters: false to keep the current value)");
                }
        }
        catch (Exception e) when (e is KeyNotFoundException or FormatException)
        {
            throw new ArgumentException("optimizer " + e.Message, e);
        }
        mine.CheckTensorsMatch(state, "optimizer");
    }

    /// <summary>Validates (see <see cref="ValidateStateDict"/>) and then copies moments, step counts and lr.</summary>
    public void LoadStateDict(NamedState state, bool checkHyperParameters = true)
    {
        ValidateStateDict(state, checkHyperParameters);
        foreach (var (name, t) in StateDict().Tensors) t.CopyFrom(state.Tensors[name]);
        for (int i = 0; i < _params.Length; i++) _steps[i] = state.GetLong(_names[i] + ".step");
        StepCount = state.GetLong("step");
        LearningRate = state.GetDouble("lr");
    }

    /// <summary>A zero tensor per parameter, outside any TensorScope (optimizer state lives as long as the optimizer).</summary>
    protected Tensor[] ZerosLikeParameters()
    {
        using (TensorScope.Suspend()) return _params.Select(p => Tensor.Zeros(p.Shape)).ToArray();
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var (_, per) in StateTensors())
            foreach (var t in per) t.Dispose();
        GC.SuppressFinalize(this);
    }
}
