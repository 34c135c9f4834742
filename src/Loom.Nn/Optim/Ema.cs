using System.Numerics;
using Loom.Tensors;

namespace Loom.Nn;

/// <summary>
/// Exponential moving average of parameters: shadow = decay*shadow + (1-decay)*param after each optimizer
/// step, computed as shadow += (1-decay)*(param - shadow). Optional warm-up uses min(decay, (1+n)/(10+n)) so
/// early averages are not dominated by the initial weights. Evaluate with <see cref="CopyTo"/>.
/// </summary>
public sealed class Ema : IDisposable
{
    private readonly string[] _names;
    private readonly Tensor[] _params;
    private readonly Tensor[] _shadow;
    private bool _disposed;

    public double Decay { get; }
    public bool Warmup { get; }

    /// <summary>Number of <see cref="Update"/> calls so far.</summary>
    public long Updates { get; private set; }

    public Ema(IEnumerable<(string Name, Tensor Parameter)> parameters, double decay = 0.999, bool warmup = false)
    {
        if (!(decay >= 0 && decay <= 1)) throw new ArgumentOutOfRangeException(nameof(decay), decay, "decay must be in [0, 1]");
        var list = parameters.ToList();
        if (list.Select(x => x.Name).Distinct(StringComparer.Ordinal).Count() != list.Count) throw new ArgumentException("EMA parameter names must be unique");
        foreach (var (n, p) in list)
            if (p.DType != DType.F32 || !p.IsContiguous) throw new ArgumentException($"EMA parameter '{n}' must be a contiguous F32 tensor, got {p}");
        Decay = decay;
        Warmup = warmup;
        _names = list.Select(x => x.Name).ToArray();
        _params = list.Select(x => x.Parameter).ToArray();
        using (TensorScope.Suspend()) _shadow = _params.Select(p => p.Clone()).ToArray();
    }

    public Ema(Module model, double decay = 0.999, bool warmup = false) : this(model.NamedParameters(), decay, warmup) { }

    /// <summary>The decay the next <see cref="Update"/> uses.</summary>
    public double CurrentDecay => Warmup ? Math.Min(Decay, (1.0 + Updates) / (10.0 + Updates)) : Decay;

    /// <summary>The averaged value of parameter <paramref name="name"/>.</summary>
    public Tensor Shadow(string name)
    {
        int i = Array.IndexOf(_names, name);
        return i >= 0 ? _shadow[i] : throw new KeyNotFoundException($"EMA has no parameter '{name}'");
    }

    /// <summary>Moves every shadow towards the current parameter value.</summary>
    public unsafe void Update()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        float w = (float)(1 - CurrentDecay);
        Updates++;
        for (int i = 0; i < _params.Length; i++)
            ElementwiseRunner.Run(checked((int)_params[i].Length), new Kernel { S = _shadow[i].Data, P = _params[i].Data, W = w });
    }

    /// <summary>Copies the averages into the same-named parameters of <paramref name="model"/>.</summary>
    public void CopyTo(Module model)
    {
        var own = model.NamedParameters().ToDictionary(x => x.Name, x => x.Parameter, StringComparer.Ordinal);
        for (int i = 0; i < _names.Length; i++)
        {
            if (!own.TryGetValue(_names[i], out var dst)) throw new KeyNotFoundException($"model has no parameter '{_names[i]}' for the EMA to copy into");
            if (!Tensor.SameShape(dst.Shape, _shadow[i].Shape))
                throw new ShapeMismatchException($"EMA parameter '{_names[i]}' has shape {Tensor.ShapeString(_shadow[i].Shape)}, the model's is {Tensor.ShapeString(dst.Shape)}");
        }
        for (int i = 0; i < _names.Length; i++) own[_names[i]].CopyFrom(_shadow[i]);
    }

    /// <summary>Shadows (by parameter name), the update count and the settings.</summary>
    public NamedState StateDict()
    {
        var s = new NamedState();
        s.Set("decay", Decay);
        s.Set("warmup", Warmup ? 1L : 0L);
        s.Set("updates", Updates);
        for (int i = 0; i < _names.Length; i++) s.Tensors[_names[i]] = _shadow[i];
        return s;
    }

    /// <summary>Checks names, shapes and settings without changing anything; throws <see cref="ArgumentException"/>.</summary>
    public void ValidateStateDict(NamedState state)
    {
        try
        {
            if (state.GetDouble("decay") != Decay) throw new ArgumentException($"EMA state has decay {state.GetDouble("decay")}, this EMA uses {Decay}");
            if ((state.GetLong("warmup") != 0) != Warmup) throw new ArgumentException("EMA state has a different warm-up setting");
            if (state.GetLong("updates") < 0) throw new ArgumentException("EMA state has a negative update count");
        }
        catch (Exception e) when (e is KeyNotFoundException or FormatException)
        {
            throw new ArgumentException("EMA " + e.Message, e);
        }
        StateDict().CheckTensorsMatch(state, "EMA");
    }

    public void LoadStateDict(NamedState state)
    {
        ValidateStateDict(state);
        for (int i = 0; i < _names.Length; i++) _shadow[i].CopyFrom(state.Tensors[_names[i]]);
        Updates = state.GetLong("updates");
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var t in _shadow) t.Dispose();
    }

    private unsafe struct Kernel : IRangeBody
    {
        public float* S, P;
        public float W;

        public readonly void Run(int start, int end)
        {
            int i = start;
            int n = Vector<float>.Count;
            var w = new Vector<float>(W);
            for (; i <= end - n; i += n)
            {
                var s = Vector.Load(S + i);
                (s + w * (Vector.Load(P + i) - s)).Store(S + i);
            }
            for (; i < end; i++) S[i] += W * (P[i] - S[i]);
        }
    }
}
