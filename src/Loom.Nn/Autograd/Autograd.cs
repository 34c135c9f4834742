using Loom.Tensors;

namespace Loom.Nn;

/// <summary>
/// Reverse-mode automatic differentiation over a dynamic, per-thread tape. Differentiable ops in <see cref="F"/>
/// record their output here when any input requires a gradient and recording is on; <see cref="NoGrad"/>
/// turns recording off with no tape overhead at all.
/// </summary>
public static class Autograd
{
    [ThreadStatic] private static List<Tensor>? _tape;
    [ThreadStatic] private static int _noGradDepth;
    [ThreadStatic] private static OpProfile? _profile;

    /// <summary>When set, this thread's recorded ops are timed into it (benchmarks); null normally.</summary>
    public static OpProfile? Profile { get => _profile; set => _profile = value; }

    /// <summary>Whether operations are being recorded on this thread.</summary>
    public static bool IsEnabled => _noGradDepth == 0;

    /// <summary>Number of recorded operations not yet consumed by a backward pass.</summary>
    public static int TapeLength => _tape?.Count ?? 0;

    /// <summary>Disables recording until the returned handle is disposed.</summary>
    public static NoGradScope NoGrad()
    {
        _noGradDepth++;
        return default;
    }

    /// <summary>Ends a <see cref="NoGrad"/> region.</summary>
    public readonly struct NoGradScope : IDisposable
    {
        public void Dispose() => _noGradDepth--;
    }

    public static bool ShouldRecord(Tensor a) => _noGradDepth == 0 && a.RequiresGrad;

    public static bool ShouldRecord(Tensor a, Tensor b) => _noGradDepth == 0 && (a.RequiresGrad || b.RequiresGrad);

    public static bool ShouldRecord(ReadOnlySpan<Tensor> inputs)
    {
        if (_noGradDepth != 0) return false;
        foreach (var t in inputs) if (t.RequiresGrad) return true;
        return false;
    }

    /// <summary>Marks <paramref name="output"/> as produced by <paramref name="fn"/> and appends it to the tape.</summary>
    public static Tensor Record(Tensor output, GradFn fn)
    {
        output.GradFn = fn;
        output.RequiresGrad = true;
        (_tape ??= new List<Tensor>()).Add(output);
        _profile?.Forward(fn);
        return output;
    }

    /// <summary>
    /// Back-propagates from <paramref name="root"/> (a scalar, unless <paramref name="gradRoot"/> is given).
    /// Leaf tensors accumulate into Grad across calls; the tape and intermediate gradients are released.
    /// </summary>
    public static void Backward(Tensor root, Tensor? gradRoot = null)
    {
        if (!root.RequiresGrad) throw new InvalidOperationException("backward on a tensor that does not require a gradient (was it computed under NoGrad, or from inputs without RequiresGrad?)");
        if (gradRoot == null && root.Length != 1) throw new ArgumentException($"backward needs a gradient for a non-scalar output of shape {Tensor.ShapeString(root.Shape)}");
        var tape = _tape ?? new List<Tensor>();
        using (NoGrad())
        {
            var seed = gradRoot != null ? gradRoot.Contiguous() : Tensor.Full(1f, root.Shape);
            Accumulate(root, seed, owned: true);
            for (int i = tape.Count - 1; i >= 0; i--)
            {
                var t = tape[i];
                var fn = t.GradFn;
                if (fn == null || t.Grad == null) continue;
                if (_profile is { } profile)
                {
                    long start = System.Diagnostics.Stopwatch.GetTimestamp();
                    fn.Backward(t, t.Grad);
                    profile.Backward(fn, start);
                }
                else fn.Backward(t, t.Grad);
            }
            // Release the graph: intermediate gradients and the tape's references.
            foreach (var t in tape)
            {
                if (!t.IsLeaf)
                {
                    t.Grad?.Dispose();
                    t.Grad = null;
                    t.GradFn = null;
                }
            }
            if (root.IsLeaf == false) { root.Grad?.Dispose(); root.Grad = null; }
        }
        tape.Clear();
    }

    /// <summary>Drops the tape without back-propagating (an evaluation pass that recorded by mistake).</summary>
    public static void ClearTape()
    {
        if (_tape == null) return;
        foreach (var t in _tape) t.GradFn = null;
        _tape.Clear();
    }

    /// <summary>
    /// Adds <paramref name="grad"/> into t.Grad, summing away broadcast dimensions. With
    /// <paramref name="owned"/> the tensor is adopted (or disposed) instead of copied.
    /// </summary>
    public static void Accumulate(Tensor t, Tensor grad, bool owned = false)
    {
        if (!t.RequiresGrad) { if (owned) grad.Dispose(); return; }
        Tensor g = grad;
        if (!Tensor.SameShape(grad.Shape, t.Shape))
        {
            g = Ops.SumTo(grad, t.Shape);
            if (owned) grad.Dispose();
            owned = true;
        }
        if (t.Grad == null)
        {
            if (!t.IsLeaf && owned && g.IsContiguous) { t.Grad = g; return; }
            if (t.IsLeaf)
            {
                // A leaf's gradient outlives the step's TensorScope.
                using (TensorScope.Suspend()) t.Grad = g.Clone();
            }
            else t.Grad = g.Clone();
            if (owned) g.Dispose();
            return;
        }
        Ops.AddInPlace(t.Grad, g);
        if (owned) g.Dispose();
    }
}
