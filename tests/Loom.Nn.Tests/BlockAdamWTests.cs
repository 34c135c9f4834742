using Loom.Nn;
using Loom.Tensors;
using Loom.Testing;

namespace Loom.Nn.Tests;

/// <summary>
/// One AdamW step of a Llama-style pre-norm block (RMSNorm, RoPE, causal GQA, SwiGLU) against PyTorch:
/// tools/fixtures/gen_block.py writes the parameters before, the loss, the gradients and the parameters after.
/// </summary>
public class BlockAdamWTests
{
    private const int B = 2, T = 12, C = 32, HQ = 4, HKV = 2, FF = 64, D = C / HQ;

    private static readonly string[] Names =
    [
        "attn_norm.weight", "attn.q_proj.weight", "attn.k_proj.weight", "attn.v_proj.weight", "attn.o_proj.weight",
        "ffn_norm.weight", "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight",
    ];

    private static Tensor Block(Tensor x, Dictionary<string, Tensor> p)
    {
        var n1 = F.RmsNorm(x, p["attn_norm.weight"], 1e-5f);                                   // (B, T, C)
        Tensor Proj(Tensor w, int h) => F.Reshape(F.MatMul(n1, w, false, true), B, T, h, D);   // (B, T, H, D)
        var q = F.Transpose(F.Rope(Proj(p["attn.q_proj.weight"], HQ), 0, 10000f, RopeStyle.Neox), 1, 2);   // (B, HQ, T, D)
        var k = F.Transpose(F.Rope(Proj(p["attn.k_proj.weight"], HKV), 0, 10000f, RopeStyle.Neox), 1, 2);  // (B, HKV, T, D)
        var v = F.Transpose(Proj(p["attn.v_proj.weight"], HKV), 1, 2);                                     // (B, HKV, T, D)
        var a = F.Attention(q, k, v, causal: true, scale: 1f / MathF.Sqrt(D));                 // (B, HQ, T, D)
        var a2 = F.Reshape(F.Transpose(a, 1, 2), B, T, C);                                     // (B, T, C)
        var h = F.Add(x, F.MatMul(a2, p["attn.o_proj.weight"], false, true));
        var n2 = F.RmsNorm(h, p["ffn_norm.weight"], 1e-5f);
        var g = F.SwiGlu(F.MatMul(n2, p["mlp.gate_proj.weight"], false, true), F.MatMul(n2, p["mlp.up_proj.weight"], false, true));
        return F.Add(h, F.MatMul(g, p["mlp.down_proj.weight"], false, true));                 // (B, T, C)
    }

    [Fact]
    public void ForwardGradientsAndOneAdamWStepMatchPyTorch()
    {
        var fx = Fixtures.Load("block_adamw.safetensors");
        var p = Names.ToDictionary(n => n, n => fx["before." + n]);
        foreach (var t in p.Values) t.RequiresGrad = true;
        var y = Block(fx["x"], p);
        Fixtures.AssertClose(fx["y"], y, 1e-4f, "block output");
        var loss = F.Mean(F.Mul(y, fx["w"]));
        Assert.Equal(fx["loss"].ToScalar(), loss.ToScalar(), 1e-6);
        Autograd.Backward(loss);
        foreach (var n in Names) Fixtures.AssertClose(fx["grad." + n], p[n].Grad!, 1e-4f, "grad " + n);
        var opt = new AdamW(Names.Select(n => (n, p[n])).ToList(), lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1);
        opt.Step();
        foreach (var n in Names) Fixtures.AssertClose(fx["after." + n], p[n], 1e-4f, "after AdamW " + n);
    }
}
