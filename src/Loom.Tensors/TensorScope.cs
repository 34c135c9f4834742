namespace Loom.Tensors;

/// <summary>
/// Releases every tensor created on this thread while the scope is open, except those passed to
/// <see cref="Keep"/>. A training step or a forward pass runs inside one, so activations go back to the pool
/// at the end of the step instead of waiting for the GC.
/// </summary>
public sealed class TensorScope : IDisposable
{
    [ThreadStatic] private static TensorScope? _current;
    [ThreadStatic] private static int _suspended;
    private readonly TensorScope? _parent;
    private readonly List<Tensor> _owned = new();
    private readonly HashSet<Tensor> _kept = new(ReferenceEqualityComparer.Instance);
    private bool _disposed;

    public TensorScope()
    {
        _parent = _current;
        _current = this;
    }

    public static TensorScope? Current => _current;

    internal static void Register(Tensor t)
    {
        if (_suspended == 0) _current?._owned.Add(t);
    }

    /// <summary>Keeps <paramref name="t"/> alive past this scope (it moves to the enclosing scope, if any).</summary>
    public Tensor Keep(Tensor t)
    {
        _kept.Add(t);
        return t;
    }

    /// <summary>Tensors created inside the returned scope are not owned by any scope (parameters, gradients, state).</summary>
    public static SuspendHandle Suspend()
    {
        _suspended++;
        return default;
    }

    /// <summary>Ends a <see cref="Suspend"/>.</summary>
    public readonly struct SuspendHandle : IDisposable
    {
        public void Dispose() => _suspended--;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_current == this) _current = _parent;
        foreach (var t in _owned)
        {
            if (_kept.Contains(t)) { _parent?._owned.Add(t); continue; }
            t.Dispose();
        }
        _owned.Clear();
    }
}
