using Loom.Tensors;

namespace Loom.Nn;

/// <summary>
/// Base of every layer and model: owns named parameters, buffers and child modules (registered in order, so
/// names like "layers.0.attn.wq.weight" come out as PyTorch would name them), train/eval mode, and the
/// state dict used by checkpoints.
/// </summary>
public abstract class Module
{
    private readonly List<(string Name, Tensor Value)> _parameters = new();
    private readonly List<(string Name, Tensor Value)> _buffers = new();
    private readonly List<(string Name, Module Value)> _children = new();

    /// <summary>True while training (dropout active); see <see cref="Train"/> and <see cref="Eval"/>.</summary>
    public bool Training { get; private set; } = true;

    /// <summary>Registers a trainable parameter (its RequiresGrad is set).</summary>
    protected Tensor RegisterParameter(string name, Tensor value)
    {
        CheckName(name);
        value.RequiresGrad = true;
        value.Name ??= name;
        _parameters.Add((name, value));
        return value;
    }

    /// <summary>Registers a non-trainable tensor that is saved with the state dict (running stats, masks).</summary>
    protected Tensor RegisterBuffer(string name, Tensor value)
    {
        CheckName(name);
        _buffers.Add((name, value));
        return value;
    }

    protected T RegisterModule<T>(string name, T module) where T : Module
    {
        CheckName(name);
        _children.Add((name, module));
        return module;
    }

    private void CheckName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('.')) throw new ArgumentException($"invalid member name '{name}'");
        if (_parameters.Exists(p => p.Name == name) || _buffers.Exists(p => p.Name == name) || _children.Exists(p => p.Name == name))
            throw new ArgumentException($"'{name}' is already registered on {GetType().Name}");
    }

    /// <summary>Direct children, in registration order.</summary>
    public IEnumerable<(string Name, Module Module)> Children() => _children;

    /// <summary>All parameters with dotted names, depth first in registration order.</summary>
    public IEnumerable<(string Name, Tensor Parameter)> NamedParameters(string prefix = "")
    {
        foreach (var (n, p) in _parameters) yield return (prefix + n, p);
        foreach (var (n, c) in _children)
            foreach (var x in c.NamedParameters(prefix + n + ".")) yield return x;
    }

    public IEnumerable<(string Name, Tensor Buffer)> NamedBuffers(string prefix = "")
    {
        foreach (var (n, b) in _buffers) yield return (prefix + n, b);
        foreach (var (n, c) in _children)
            foreach (var x in c.NamedBuffers(prefix + n + ".")) yield return x;
    }

    public IEnumerable<Tensor> Parameters() => NamedParameters().Select(p => p.Parameter);

    /// <summary>Total number of parameter elements.</summary>
    public long ParameterCount() => Parameters().Sum(p => p.Length);

    public Module Train(bool on = true)
    {
        Training = on;
        foreach (var (_, c) in _children) c.Train(on);
        return this;
    }

    public Module Eval() => Train(false);

    /// <summary>Clears the gradients of every parameter.</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters())
        {
            p.Grad?.Dispose();
            p.Grad = null;
        }
    }

    /// <summary>Parameters and buffers by name (the tensors themselves, not copies).</summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var d = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (n, p) in NamedParameters()) d[n] = p;
        foreach (var (n, b) in NamedBuffers()) d[n] = b;
        return d;
    }

    /// <summary>
    /// Copies values into the parameters and buffers. Every name must be present with the same shape
    /// (converted from F16/BF16 if needed); with <paramref name="strict"/> extra names are an error too.
    /// </summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state, bool strict = true)
    {
        var own = StateDict();
        var missing = own.Keys.Where(k => !state.ContainsKey(k)).ToList();
        if (missing.Count > 0) throw new KeyNotFoundException($"state dict is missing {missing.Count} tensor(s): {string.Join(", ", missing.Take(8))}");
        if (strict)
        {
            var extra = state.Keys.Where(k => !own.ContainsKey(k)).ToList();
            if (extra.Count > 0) throw new ArgumentException($"state dict has {extra.Count} unexpected tensor(s): {string.Join(", ", extra.Take(8))}");
        }
        foreach (var (name, dst) in own)
        {
            var src = state[name];
            if (!Tensor.SameShape(src.Shape, dst.Shape))
                throw new ShapeMismatchException($"state dict tensor '{name}' has shape {Tensor.ShapeString(src.Shape)}, the model expects {Tensor.ShapeString(dst.Shape)}");
            dst.CopyFrom(src);
        }
    }
}
