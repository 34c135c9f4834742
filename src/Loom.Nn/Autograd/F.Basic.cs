using Loom.Tensors;

namespace Loom.Nn;

/// <summary>
/// Differentiable functions: each runs the forward kernel from <see cref="Ops"/> and, when recording,
/// puts a <see cref="GradFn"/> on the tape that knows the backward kernel.
/// </summary>
public static partial class F
{
    public static Tensor Add(Tensor a, Tensor b)
    {
        var y = Ops.Add(a, b);
        return Autograd.ShouldRecord(a, b) ? Autograd.Record(y, new AddBackward(a, b, 1f)) : y;
    }

    public static Tensor Sub(Tensor a, Tensor b)
    {
        var y = Ops.Sub(a, b);
        return Autograd.ShouldRecord(a, b) ? Autograd.Record(y, new AddBackward(a, b, -1f)) : y;
    }

    public static Tensor Mul(Tensor a, Tensor b)
    {
        var y = Ops.Mul(a, b);
        return Autograd.ShouldRecord(a, b) ? Autograd.Record(y, new MulBackward(a, b)) : y;
    }

    public static Tensor Div(Tensor a, Tensor b)
    {
        var y = Ops.Div(a, b);
        return Autograd.ShouldRecord(a, b) ? Autograd.Record(y, new DivBackward(a, b)) : y;
    }

    public static Tensor Scale(Tensor a, float s)
    {
        var y = Ops.Scale(a, s);
        return Autograd.ShouldRecord(a) ? Autograd.Record(y, new ScaleBackward(a, s)) : y;
    }

    public static Tensor AddScalar(Tensor a, float s)
    {
        var y = Ops.AddScalar(a, s);
        return Autograd.ShouldRecord(a) ? Autograd.Record(y, new ScaleBackward(a, 1f)) : y;
    }

    /// <summary>a (..., M, K) @ b (..., K, N) or b (K, N); see <see cref="Ops.MatMul"/>.</summary>
    public static Tensor MatMul(Tensor a, Tensor b, bool transA = false, bool transB = false)
    {
        var y = Ops.MatMul(a, b, transA, transB);
        return Autograd.ShouldRecord(a, b) ? Autograd.Record(y, new MatMulBackward(a, b, transA, transB)) : y;
    }

    /// <summary>Reshape (a view when possible) that gradients flow through.</summary>
    public static Tensor Reshape(Tensor a, params int[] shape)
    {
        var y = a.Reshape(shape);
        return Autograd.ShouldRecord(a) ? Autograd.Record(y, new ReshapeBackward(a)) : y;
    }

    /// <summary>Transpose (a view) that gradients flow through.</summary>
    public static Tensor Transpose(Tensor a, int dim0, int dim1)
    {
        var y = a.Transpose(dim0, dim1);
        return Autograd.ShouldRecord(a) ? Autograd.Record(y, new TransposeBackward(a, dim0, dim1)) : y;
    }

    private sealed class AddBackward(Tensor a, Tensor b, float signB) : GradFn(a, b)
    {
        public override void Backward(Tensor output, Tensor g)
        {
            Autograd.Accumulate(a, g);
            if (!b.RequiresGrad) return;
            if (signB == 1f) Autograd.Accumulate(b, g);
            else Autograd.Accumulate(b, Ops.Scale(g, signB), owned: true);
        }
    }

    private sealed class MulBackward(Tensor a, Tensor b) : GradFn(a, b)
    {
        public override void Backward(Tensor output, Tensor g)
        {
            if (a.RequiresGrad) Autograd.Accumulate(a, Ops.Mul(g, b), owned: true);
            if (b.RequiresGrad) Autograd.Accumulate(b, Ops.Mul(g, a), owned: true);
        }
    }

    private sealed class DivBackward(Tensor a, Tensor b) : GradFn(a, b)
    {
        public override void Backward(Tensor output, Tensor g)
        {
            if (a.RequiresGrad) Autograd.Accumulate(a, Ops.Div(g, b), owned: true);
            if (b.RequiresGrad)
            {
                // d(a/b)/db = -(a/b)/b = -y/b
                using var t = Ops.Mul(g, output);
                using var u = Ops.Div(t, b);
                Autograd.Accumulate(b, Ops.Scale(u, -1f), owned: true);
            }
        }
    }

    private sealed class ScaleBackward(Tensor a, float s) : GradFn(a)
    {
        public override void Backward(Tensor output, Tensor g) =>
            Autograd.Accumulate(a, s == 1f ? g.Clone() : Ops.Scale(g, s), owned: true);
    }

    private sealed class MatMulBackward(Tensor a, Tensor b, bool transA, bool transB) : GradFn(a, b)
    {
        public override void Backward(Tensor output, Tensor g)
        {
            // y = op(a) op(b). dL/d op(a) = g op(b)^T, dL/d op(b) = op(a)^T g; a transposed operand's
            // gradient is the transpose of its op's gradient, which is computed directly as one GEMM
            // (da = op(b) g^T, db = g^T op(a)) rather than as a GEMM followed by a transposing copy.
            if (a.RequiresGrad)
            {
                if (transA && a.Rank == b.Rank)
                    Autograd.Accumulate(a, Ops.MatMul(b, g, transB, true), owned: true);      // (..., K, M)
                else
                {
                    var dOpA = Ops.MatMul(g, b, false, !transB);                              // (..., M, K)
                    Autograd.Accumulate(a, transA ? TransposeLast(dOpA) : dOpA, owned: true);
                }
            }
            if (b.RequiresGrad)
            {
                Tensor dB;                                                                    // b's shape, or (..., b) summed by Accumulate
                if (b.Rank == 2 && a.Rank > 2 && !transA)
                {
                    // b was shared by every batch: fold the batch into the rows, one GEMM.
                    using var a2 = a.Reshape(-1, a.Shape[^1]);
                    using var g2 = g.Reshape(-1, g.Shape[^1]);
                    dB = transB ? Ops.MatMul(g2, a2, true, false) : Ops.MatMul(a2, g2, true, false);
                }
                else dB = transB ? Ops.MatMul(g, a, true, transA) : Ops.MatMul(a, g, !transA, false);
                Autograd.Accumulate(b, dB, owned: true);
            }
        }

        private static Tensor TransposeLast(Tensor t)
        {
            using (t)
            using (var v = t.Transpose(-1, -2)) return v.Contiguous();
        }
    }

    private sealed class ReshapeBackward(Tensor a) : GradFn(a)
    {
        public override void Backward(Tensor output, Tensor g) => Autograd.Accumulate(a, g.Reshape(a.Shape), owned: true);
    }

    private sealed class TransposeBackward(Tensor a, int d0, int d1) : GradFn(a)
    {
        public override void Backward(Tensor output, Tensor g)
        {
            using var t = g.Transpose(d0, d1);
            Autograd.Accumulate(a, t.Contiguous(), owned: true);
        }
    }
}
