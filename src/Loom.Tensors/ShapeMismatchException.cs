namespace Loom.Tensors;

/// <summary>Two tensors' shapes do not fit an operation; the message names both shapes.</summary>
public sealed class ShapeMismatchException(string message) : ArgumentException(message)
{
    public static void ThrowIfDifferent(Tensor a, Tensor b, string op)
    {
        if (!Tensor.SameShape(a.Shape, b.Shape))
            throw new ShapeMismatchException($"{op}: shapes {Tensor.ShapeString(a.Shape)} and {Tensor.ShapeString(b.Shape)} differ");
    }
}
