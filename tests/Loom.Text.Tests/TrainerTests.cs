using System.Text;
using Loom.Text;

namespace Loom.Text.Tests;

public class TrainerTests
{
    [Theory]
    [InlineData(PreTokenizerKind.Gpt2)]
    [InlineData(PreTokenizerKind.Llama3)]
    public void TrainingIsDeterministic(PreTokenizerKind kind)
    {
        var a = TestData.Trained(kind);
        var b = TestData.Train(kind);
        Assert.Equal(a.Merges, b.Merges);
        Assert.Equal(600, a.VocabSize);
        Assert.Equal(600 - 2 - 256, a.Merges.Count);
    }

    [Fact]
    public void TrainedTokenizerCompressesItsCorpus()
    {
        var tok = TestData.Trained(PreTokenizerKind.Llama3);
        string text = TestData.Corpus(5000, seed: 2);
        int bytes = Encoding.UTF8.GetByteCount(text);
        int tokens = tok.Encode(text).Length;
        Assert.True(tokens * 3 < bytes, $"{tokens} tokens for {bytes} bytes");
    }

    [Fact]
    public void MergeCountsMatchARecount()
    {
        // The first merge is the most frequent pair of the corpus, ties to the smaller pair.
        var trainer = new BpeTrainer(new BpeTrainerOptions { VocabSize = 300, PreTokenizer = PreTokenizerKind.Gpt2 });
        string text = TestData.Corpus(3000);
        trainer.Add(text);
        var tok = trainer.Train();
        var counts = new Dictionary<(int, int), int>();
        var bytes = Encoding.UTF8.GetBytes(text);
        foreach (var r in PreTokenizer.Split(PreTokenizerKind.Gpt2, bytes))
            for (int i = r.Start.Value; i + 1 < r.End.Value; i++)
                counts[(bytes[i], bytes[i + 1])] = counts.GetValueOrDefault((bytes[i], bytes[i + 1])) + 1;
        var best = counts.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key.Item1).ThenBy(kv => kv.Key.Item2).First().Key;
        Assert.Equal(best, tok.Merges[0]);

        Assert.Equal(NaiveMerges(bytes, PreTokenizerKind.Gpt2, 300 - 256), tok.Merges);
    }

    [Fact]
    public void LargerTrainingMatchesTheNaiveTrainer()
    {
        var tok = TestData.Trained(PreTokenizerKind.Llama3);
        var bytes = Encoding.UTF8.GetBytes(TestData.Corpus(20000));
        Assert.Equal(NaiveMerges(bytes, PreTokenizerKind.Llama3, tok.Merges.Count), tok.Merges);
    }

    // Textbook BPE training: recount every pair of every word before each merge. Slow but obviously right,
    // so the incremental pair counts and lazy heap must reproduce its merges exactly.
    private static List<(int, int)> NaiveMerges(byte[] text, PreTokenizerKind kind, int merges)
    {
        var words = PreTokenizer.Split(kind, text).GroupBy(r => Convert.ToHexString(text[r]))
            .Select(g => (Syms: text[g.First()].Select(b => (int)b).ToList(), Count: g.Count())).ToList();
        var result = new List<(int, int)>();
        for (int z = 256; result.Count < merges; z++)
        {
            var counts = new Dictionary<(int, int), long>();
            foreach (var (syms, count) in words)
                for (int i = 0; i + 1 < syms.Count; i++)
                    counts[(syms[i], syms[i + 1])] = counts.GetValueOrDefault((syms[i], syms[i + 1])) + count;
            if (counts.Count == 0) break;
            var best = counts.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key.Item1).ThenBy(kv => kv.Key.Item2).First();
            if (best.Value < 2) break;
            result.Add(best.Key);
            foreach (var (syms, _) in words)
                for (int i = 0; i + 1 < syms.Count; i++)
                    if (syms[i] == best.Key.Item1 && syms[i + 1] == best.Key.Item2) { syms[i] = z; syms.RemoveAt(i + 1); }
        }
        return result;
    }

    [Fact]
    public void SaveLoadGivesAnEqualTokenizer()
    {
        var tok = TestData.Trained(PreTokenizerKind.Llama3);
        string path = Path.Combine(Path.GetTempPath(), $"loom-tok-{Guid.NewGuid():N}.json");
        try
        {
            TokenizerJson.Save(tok, path);
            var again = TokenizerJson.Load(path);
            Assert.Equal(tok.VocabSize, again.VocabSize);
            Assert.Equal(tok.Merges, again.Merges);
            Assert.Equal(tok.AddedTokens, again.AddedTokens);
            Assert.Equal(tok.BosId, again.BosId);
            Assert.Equal(tok.EosId, again.EosId);
            Assert.Equal(tok.PreTokenizer, again.PreTokenizer);
            for (int id = 0; id < tok.VocabSize; id++) Assert.Equal(tok.TokenBytes(id).ToArray(), again.TokenBytes(id).ToArray());
            string text = TestData.Corpus(500, seed: 11);
            Assert.Equal(tok.Encode(text, addBos: true), again.Encode(text, addBos: true));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void RejectsBadSettings()
    {
        var e = Assert.Throws<ArgumentException>(() => new BpeTrainer(new BpeTrainerOptions { VocabSize = 257, SpecialTokens = ["<a>", "<b>"] }));
        Assert.Contains("258", e.Message);
        Assert.Throws<ArgumentException>(() => new BpeTrainer(new BpeTrainerOptions { SpecialTokens = ["<a>", "<a>"] }));
        Assert.Throws<ArgumentException>(() => new BpeTrainer(new BpeTrainerOptions { Bos = "<s>" }));
    }

    [Fact]
    public void SpecialTokensInTrainingTextAreNotLearned()
    {
        var trainer = new BpeTrainer(new BpeTrainerOptions { VocabSize = 400, SpecialTokens = ["<|sep|>"], MinFrequency = 1 });
        trainer.Add(string.Concat(Enumerable.Repeat("<|sep|>abc ", 200)));
        var tok = trainer.Train();
        Assert.True(tok.Merges.Count > 0);
        for (int id = 256; id < tok.ModelVocabSize; id++)
            Assert.All(tok.TokenBytes(id).ToArray(), b => Assert.Contains((char)b, "abc "));
    }
}
