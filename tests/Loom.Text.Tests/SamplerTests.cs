using Loom.Text.Sampling;

namespace Loom.Text.Tests;

public class SamplerTests
{
    private static float[] Logits(params float[] v) => v;

    [Theory]
    [InlineData(4096, 40, 1)]
    [InlineData(4096, 40, 2)]
    [InlineData(1000, 1, 3)]
    [InlineData(37, 5, 4)]
    [InlineData(9, 8, 5)]
    [InlineData(130, 129, 6)]
    public void TopKEqualsAFullSortByLogitThenIndex(int n, int k, int seed)
    {
        // Few distinct values (many ties), some -inf, ascending runs: the vector skip must not change the chosen set or order.
        var rng = new Random(seed);
        var logits = new float[n];
        for (int i = 0; i < n; i++)
            logits[i] = rng.Next(10) == 0 ? float.NegativeInfinity : i % 97 < 10 ? i * 0.01f : rng.Next(12) * 0.5f;
        var idx = Enumerable.Range(0, n).ToArray();
        Sampler.TopKDescending(logits, idx, k, new (float, int)[k]);
        var expected = Enumerable.Range(0, n).OrderByDescending(i => logits[i]).ThenBy(i => i).Take(k).ToArray();
        Assert.Equal(expected, idx.Take(k).ToArray());
    }

    [Fact]
    public void TemperatureZeroIsArgMax()
    {
        var s = new Sampler(new SamplerOptions { Temperature = 0 });
        Assert.Equal(2, s.Sample(Logits(0.1f, 1f, 3f, 2f), []));
    }

    [Fact]
    public void SameSeedSameDrawsDifferentSeedDifferentDraws()
    {
        int[] Draw(ulong seed)
        {
            var s = new Sampler(new SamplerOptions { Temperature = 1, TopK = 0, TopP = 1, MinP = 0, Seed = seed });
            var rng = new Random(5);
            var logits = Enumerable.Range(0, 50).Select(_ => (float)rng.NextDouble() * 3).ToArray();
            return Enumerable.Range(0, 40).Select(_ => s.Sample((float[])logits.Clone(), [])).ToArray();
        }
        Assert.Equal(Draw(1), Draw(1));
        Assert.NotEqual(Draw(1), Draw(2));
    }

    [Fact]
    public void TopKAndMinPRestrictTheCandidates()
    {
        var topK = new Sampler(new SamplerOptions { Temperature = 5, TopK = 2, TopP = 1, MinP = 0, Seed = 3 });
        var minP = new Sampler(new SamplerOptions { Temperature = 1, TopK = 0, TopP = 1, MinP = 0.5f, Seed = 3 });
        for (int i = 0; i < 300; i++)
        {
            Assert.Contains(topK.Sample(Logits(0f, 4f, 1f, 3.9f), []), new[] { 1, 3 });
            // p(0) = 1, p(1) = e^-0.5 = 0.61 (kept), p(2) = e^-3 (dropped by min-p 0.5).
            Assert.Contains(minP.Sample(Logits(3f, 2.5f, 0f), []), new[] { 0, 1 });
        }
    }

    [Fact]
    public void TopPKeepsTheSmallestNucleus()
    {
        var s = new Sampler(new SamplerOptions { Temperature = 1, TopK = 0, TopP = 0.5f, MinP = 0, Seed = 9 });
        // softmax(ln 0.6, ln 0.3, ln 0.1): the first token alone reaches 0.5.
        for (int i = 0; i < 100; i++) Assert.Equal(0, s.Sample(Logits(MathF.Log(0.6f), MathF.Log(0.3f), MathF.Log(0.1f)), []));
    }

    [Fact]
    public void RepetitionPenaltyDemotesSeenTokens()
    {
        var s = new Sampler(new SamplerOptions { Temperature = 0, RepetitionPenalty = 2f });
        Assert.Equal(1, s.Sample(Logits(3f, 2f), [0]));
    }

    [Fact]
    public void InvalidOptionsNameTheSetting()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Sampler(new SamplerOptions { TopP = 0 }));
        Assert.Contains("TopP", e.Message);
    }
}
