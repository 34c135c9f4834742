using System.Diagnostics;
using Loom.Text;

namespace Loom.Bench;

/// <summary>Measures tokenizer encode throughput (single thread, cold and warm cache) and BPE training time.</summary>
public static class TokenizerBenchmark
{
    /// <summary>Encode timings: cold is the first pass over an empty word cache, warm the best of the later passes.</summary>
    public sealed record EncodeResult(long Bytes, int Tokens, double ColdSeconds, double WarmSeconds)
    {
        /// <summary>Throughput of the first pass, MB (10^6 bytes) per second.</summary>
        public double ColdMBps => Bytes / 1e6 / ColdSeconds;

        /// <summary>Throughput of the best later pass, MB per second.</summary>
        public double WarmMBps => Bytes / 1e6 / WarmSeconds;

        /// <summary>Average bytes per token, the compression the vocabulary achieves on this text.</summary>
        public double BytesPerToken => (double)Bytes / Tokens;
    }

    /// <summary>Encodes <paramref name="text"/> on the calling thread, once cold and <paramref name="warmRepeats"/> times warm.</summary>
    public static EncodeResult Encode(BpeTokenizer tokenizer, byte[] text, int warmRepeats = 3)
    {
        tokenizer.ClearCache();
        var ids = new List<int>(text.Length / 3);
        var sw = Stopwatch.StartNew();
        tokenizer.EncodeBytes(text, ids);
        double cold = sw.Elapsed.TotalSeconds;
        int tokens = ids.Count;
        double warm = double.MaxValue;
        for (int r = 0; r < warmRepeats; r++)
        {
            ids.Clear();
            sw.Restart();
            tokenizer.EncodeBytes(text, ids);
            warm = Math.Min(warm, sw.Elapsed.TotalSeconds);
        }
        return new EncodeResult(text.Length, tokens, cold, warmRepeats > 0 ? warm : cold);
    }

    /// <summary>Training timings, split into word counting and merging.</summary>
    public sealed record TrainResult(BpeTokenizer Tokenizer, int DistinctWords, double CountSeconds, double MergeSeconds);

    /// <summary>Trains a tokenizer of <paramref name="vocabSize"/> ids on <paramref name="text"/> and times both phases.</summary>
    public static TrainResult Train(byte[] text, int vocabSize, PreTokenizerKind kind)
    {
        var trainer = new BpeTrainer(new BpeTrainerOptions { VocabSize = vocabSize, PreTokenizer = kind, SpecialTokens = ["<|endoftext|>"] });
        var sw = Stopwatch.StartNew();
        trainer.Add(text);
        double count = sw.Elapsed.TotalSeconds;
        sw.Restart();
        var tok = trainer.Train();
        return new TrainResult(tok, trainer.DistinctWords, count, sw.Elapsed.TotalSeconds);
    }
}
