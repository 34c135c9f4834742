using Loom.Models.Llama;
using Loom.Nn;
using Loom.Tensors;
using Loom.Text;

namespace Loom.Training.Lm;

/// <summary>Loss, perplexity and bits per byte of a model on a text.</summary>
public sealed record LmEvalResult(long Tokens, long Bytes, double Loss, double Perplexity, double BitsPerByte);

/// <summary>
/// Scores a text in consecutive windows of the model's context: every token after the first of each window
/// is predicted from the ones before it in the window. Bits per byte divide the total information by the
/// text's UTF-8 length, so tokenizers of different sizes compare fairly.
/// </summary>
public static class LmEvaluator
{
    public static LmEvalResult Evaluate(LlamaModel model, BpeTokenizer tok, string text, int context = 0, int batch = 4, Action<double>? onProgress = null)
    {
        int ctx = context > 0 ? Math.Min(context, model.Config.MaxSeqLen) : model.Config.MaxSeqLen;
        var ids = tok.Encode(text, allowSpecial: false);
        if (ids.Length < 2) throw new ArgumentException($"the text has {ids.Length} token(s); at least 2 are needed to score anything");
        long bytes = System.Text.Encoding.UTF8.GetByteCount(text);
        // Windows of ctx+1 tokens overlapping by one, so every token but the very first is a target once.
        var starts = new List<int>();
        for (int s = 0; s + 1 < ids.Length; s += ctx) starts.Add(s);
        double nats = 0;
        long count = 0;
        model.Eval();
        using var _ = Autograd.NoGrad();
        // Every window is ctx long except possibly the last; batch the equal ones, score the last alone.
        for (int i = 0; i < starts.Count; )
        {
            int t = Math.Min(ctx, ids.Length - 1 - starts[i]);
            int n = 1;
            while (n < batch && i + n < starts.Count && Math.Min(ctx, ids.Length - 1 - starts[i + n]) == t) n++;
            var x = new int[n * t];
            var y = new int[n * t];
            for (int w = 0; w < n; w++)
            {
                Array.Copy(ids, starts[i + w], x, w * t, t);
                Array.Copy(ids, starts[i + w] + 1, y, w * t, t);
            }
            using (new TensorScope()) nats += model.Loss(x, y, n, t).ToScalar() * (double)(n * t);
            count += n * t;
            i += n;
            onProgress?.Invoke((double)i / starts.Count);
        }
        double loss = nats / count;
        return new LmEvalResult(ids.Length, bytes, loss, Math.Exp(loss), nats / Math.Log(2) / bytes);
    }
}
