using Loom.Models.Generation;
using Loom.Models.Llama;
using Loom.Nn;
using Loom.Tensors;
using Loom.Text;
using Loom.Text.Sampling;

namespace Loom.Models.Tests;

public class LlamaModelTests
{
    internal static LlamaConfig Tiny(int vocab = 300, bool tied = false) => new()
    {
        VocabSize = vocab, Dim = 32, Layers = 2, Heads = 4, KvHeads = 2, FfnDim = 64, MaxSeqLen = 64, TieEmbeddings = tied,
    };

    [Fact]
    public void ParameterNamesFollowHuggingFaceLlama()
    {
        var m = new LlamaModel(Tiny(), new Rng(1));
        var names = m.NamedParameters().Select(p => p.Name).ToHashSet();
        Assert.Contains("model.embed_tokens.weight", names);
        Assert.Contains("model.layers.1.self_attn.k_proj.weight", names);
        Assert.Contains("model.layers.0.mlp.gate_proj.weight", names);
        Assert.Contains("model.layers.0.post_attention_layernorm.weight", names);
        Assert.Contains("model.norm.weight", names);
        Assert.Contains("lm_head.weight", names);
        Assert.DoesNotContain("lm_head.weight", new LlamaModel(Tiny(tied: true), new Rng(1)).NamedParameters().Select(p => p.Name));
        Assert.Equal([16, 32], m.StateDict()["model.layers.0.self_attn.k_proj.weight"].Shape);
    }

    [Fact]
    public void CachedDecodingGivesTheSameLogitsAsAFullForward()
    {
        var m = new LlamaModel(Tiny(), new Rng(2));
        m.Eval();
        int[] ids = [5, 17, 99, 3, 250, 41, 7];
        using var _ = Autograd.NoGrad();
        using var full = m.Forward(ids, 1, ids.Length);                          // (1, 7, V)
        using var cache = new LlamaCache(m.Config, 1);
        using (var prefix = m.Forward(ids[..4], 1, 4, cache)) { }
        for (int t = 4; t < ids.Length; t++)
        {
            using var step = m.Forward([ids[t]], 1, 1, cache);                 // (1, 1, V)
            using var expected = full.Select(1, t);
            var e = expected.ToArray();
            var a = step.ToArray();
            for (int i = 0; i < e.Length; i++) Assert.True(MathF.Abs(e[i] - a[i]) < 1e-4f * (1 + MathF.Abs(e[i])), $"position {t} logit {i}: {a[i]} vs {e[i]}");
        }
        Assert.Equal(ids.Length, cache.Length);
    }

    [Fact]
    public void LossDropsWhenOverfittingOneBatch()
    {
        var m = new LlamaModel(Tiny(), new Rng(3));
        var opt = new AdamW(m, lr: 3e-3, weightDecay: 0);
        var rng = new Rng(4);
        var x = Enumerable.Range(0, 2 * 16).Select(_ => rng.NextInt(300)).ToArray();
        var y = x.Select(v => (v * 7 + 3) % 300).ToArray();
        double first = 0, last = 0;
        for (int step = 0; step < 30; step++)
        {
            using var scope = new TensorScope();
            var loss = m.Loss(x, y, 2, 16);
            if (step == 0) first = loss.ToScalar();
            last = loss.ToScalar();
            Autograd.Backward(loss);
            opt.Step();
            opt.ZeroGrad();
        }
        Assert.True(first > 5.0, $"initial loss {first} should be near ln(300) = 5.7");
        Assert.True(last < first * 0.5, $"loss went from {first} to {last}");
    }

    [Fact]
    public void ContextLongerThanTheModelsIsAClearError()
    {
        var m = new LlamaModel(Tiny(), new Rng(5));
        var ids = new int[65];
        var e = Assert.Throws<ArgumentException>(() => m.Forward(ids, 1, 65));
        Assert.Contains("64", e.Message);
    }

    [Fact]
    public void MissingConfigFieldIsNamed()
    {
        var e = Assert.Throws<LlamaConfigException>(() => LlamaConfig.FromJson("{\"vocab_size\": 10, \"hidden_size\": 8}", "my.json"));
        Assert.Contains("my.json", e.Message);
        Assert.Contains("num_hidden_layers", e.Message);
        var bad = Assert.Throws<LlamaConfigException>(() => (Tiny() with { KvHeads = 3 }).Validate("c.json"));
        Assert.Contains("num_key_value_heads", bad.Message);
    }

    [Fact]
    public void SaveLoadAndSeededGenerationAreReproducible()
    {
        string dir = Path.Combine(Path.GetTempPath(), "loom-model-" + Guid.NewGuid().ToString("N"));
        try
        {
            var trainer = new BpeTrainer(new BpeTrainerOptions { VocabSize = 300, SpecialTokens = ["<|endoftext|>"], Eos = "<|endoftext|>", PreTokenizer = PreTokenizerKind.Gpt2 });
            trainer.Add("the cat sat on the mat. the dog sat on the log. " + string.Concat(Enumerable.Repeat("a rose is a rose. ", 20)));
            var tok = trainer.Train();
            var m = new LlamaModel(Tiny(tok.VocabSize), new Rng(6));
            ModelFolder.Save(dir, m, tok);
            var (m2, tok2) = ModelFolder.Load(dir);
            Assert.Equal(m.StateDict()["model.norm.weight"].ToArray(), m2.StateDict()["model.norm.weight"].ToArray());
            var opts = new SamplerOptions { Temperature = 1f, Seed = 11 };
            var a = new Generator(m, tok).Generate("the cat", opts, 20);
            var b = new Generator(m2, tok2).Generate("the cat", opts, 20);
            Assert.Equal(a.Tokens, b.Tokens);
            Assert.Equal(a.Text, b.Text);
            var c = new Generator(m2, tok2).Generate("the cat", opts with { Seed = 12 }, 20);
            Assert.NotEqual(a.Tokens, c.Tokens);
            // A prompt of only a special token is a defined start; an empty prompt starts from end-of-text.
            var special = new Generator(m2, tok2).Generate("<|endoftext|>", opts, 5);
            Assert.Equal(1, special.PromptTokens);
            Assert.True(special.Tokens.Length <= 5);
            Assert.Equal(1, new Generator(m2, tok2).Generate("", opts, 5).PromptTokens);
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    [Fact]
    public void StopStringsEndTheTextBeforeTheStop()
    {
        var s = new Utf8Stream(["END"]);
        Assert.Equal("abc ", s.Push("abc E"u8) + s.Push("N"u8));
        Assert.Equal("", s.Push("Dxyz"u8));
        Assert.True(s.Stopped);
        var u = new Utf8Stream([]);
        var euro = "€"u8.ToArray();
        Assert.Equal("", u.Push(euro.AsSpan(0, 2)));
        Assert.Equal("€", u.Push(euro.AsSpan(2)));
    }
}
