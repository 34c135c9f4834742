using Loom.Nn;
using Loom.Tensors;

namespace Loom.Nn.Tests;

public class OpProfileTests
{
    [Fact]
    public void ProfileCountsRecordedOpsAndTimesTheirBackward()
    {
        var a = Tensor.RandNormal(new Rng(1), 0, 1, 8, 16);
        var b = Tensor.RandNormal(new Rng(2), 0, 1, 16, 4);
        a.RequiresGrad = true;
        b.RequiresGrad = true;
        var profile = new OpProfile();
        Autograd.Profile = profile;
        try
        {
            profile.Mark();
            Autograd.Backward(F.Sum(F.MatMul(a, b)));
        }
        finally { Autograd.Profile = null; }
        var ops = profile.Timings.ToDictionary(t => t.Op);
        Assert.Equal(1, ops["MatMul"].Count);
        Assert.True(ops["MatMul"].ForwardMs >= 0 && ops["MatMul"].BackwardMs > 0);
        Assert.Equal(2, ops.Values.Sum(t => t.Count));   // MatMul and the sum
        Assert.NotNull(a.Grad);

        // Without a profile nothing more is recorded.
        Autograd.Backward(F.Sum(F.MatMul(a, b)));
        Assert.Equal(2, profile.Timings.Sum(t => t.Count));
    }
}
