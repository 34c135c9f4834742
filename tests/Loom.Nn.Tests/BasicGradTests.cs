using Loom.Nn;
using Loom.Tensors;

namespace Loom.Nn.Tests;

public class BasicGradTests
{
    private static Tensor R(int seed, params int[] shape) => Tensor.RandNormal(new Rng((ulong)seed), 0, 1, shape);

    [Fact]
    public void AddSubMulDivWithBroadcasting()
    {
        GradCheck.Check(x => F.Add(x[0], x[1]), [R(1, 3, 4), R(2, 4)]);
        GradCheck.Check(x => F.Sub(x[0], x[1]), [R(3, 2, 3, 4), R(4, 3, 1)]);
        GradCheck.Check(x => F.Mul(x[0], x[1]), [R(5, 3, 4), R(6, 1, 4)]);
        using var d = Ops.AddScalar(R(8, 4), 3f); // keep the divisor away from zero
        GradCheck.Check(x => F.Div(x[0], x[1]), [R(7, 2, 4), d.Clone()]);
    }

    [Fact]
    public void MatMulAllTransposeCombinations()
    {
        foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
            {
                var a = ta ? R(1, 5, 3) : R(1, 3, 5);
                var b = tb ? R(2, 4, 5) : R(2, 5, 4);
                GradCheck.Check(x => F.MatMul(x[0], x[1], ta, tb), [a, b]);
            }
        // Batched with a shared 2-D right operand (the Linear layer case).
        GradCheck.Check(x => F.MatMul(x[0], x[1], false, true), [R(3, 2, 3, 5), R(4, 4, 5)]);
        GradCheck.Check(x => F.MatMul(x[0], x[1]), [R(5, 2, 3, 5), R(6, 2, 5, 4)]);
        // Batched, transposed left operand with a shared 2-D right operand (plain and transposed).
        GradCheck.Check(x => F.MatMul(x[0], x[1], true, false), [R(7, 2, 5, 3), R(8, 5, 4)]);
        GradCheck.Check(x => F.MatMul(x[0], x[1], true, true), [R(9, 2, 5, 3), R(10, 4, 5)]);
        GradCheck.Check(x => F.MatMul(x[0], x[1], true, true), [R(11, 2, 5, 3), R(12, 2, 4, 5)]);
    }

    [Fact]
    public void GradientsAccumulateAcrossBackwardCalls()
    {
        var a = R(1, 3);
        a.RequiresGrad = true;
        Autograd.Backward(F.Sum(F.Scale(a, 2f)));
        Autograd.Backward(F.Sum(F.Scale(a, 3f)));
        Assert.Equal([5f, 5f, 5f], a.Grad!.ToArray());
    }

    [Fact]
    public void NoGradRecordsNothing()
    {
        var a = R(1, 3);
        a.RequiresGrad = true;
        using (Autograd.NoGrad())
        {
            var y = F.Mul(a, a);
            Assert.Null(y.GradFn);
            Assert.False(y.RequiresGrad);
        }
        Assert.Equal(0, Autograd.TapeLength);
    }

    [Fact]
    public void MatMulShapeMismatchNamesBothShapes()
    {
        var e = Assert.Throws<ShapeMismatchException>(() => F.MatMul(R(1, 2, 3), R(2, 4, 5)));
        Assert.Contains("(2, 3)", e.Message);
        Assert.Contains("(4, 5)", e.Message);
    }
}
