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
        for (int i = 0; i < starts.Count; i += batch)
        {
            // Group windows of equal length (only the last one can be shorter).
            var group = starts.Skip(i).Take(batch).ToList();
            int t = Math.Min(ctx, ids.Length - 1 - group[0]);
            var full = group.Where(s => Math.Min(ctx, ids.Length - 1 - s) == t).ToList();
            foreach (var g in new[] { full, group.Except(full).ToList() })
            {
                if (g.Count == 0) continue;
                int tt = Math.Min(ctx, ids.Length - 1 - g[0]);
                var x = new int[g.Count * tt];
                var y = new int[g.Count * tt];
                for (int b = 0; b < g.Count; b++)
                {
                    Array.Copy(ids, g[b], x, b * tt, tt);
                    Array.Copy(ids, g[b] + 1, y, b * tt, tt);
                }
                using var scope = new TensorScope();
                nats += model.Loss(x, y, g.Count, tt).ToScalar() * (double)(g.Count * tt);
                count += g.Count * tt;
            }
            onProgress?.Invoke((double)Math.Min(i + batch, starts.Count) / starts.Count);
        }
        double loss = nats / count;
        return new LmEvalResult(ids.Length, bytes, loss, Math.Exp(loss), nats / Math.Log(2) / bytes);
    }
}
