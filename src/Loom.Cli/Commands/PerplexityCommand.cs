using System.ComponentModel;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Loom.Cli.Commands;

/// <summary>
/// `loom perplexity`: perplexity of a model on a text file, computed as llama.cpp's perplexity tool does: the whole text
/// tokenized once (BOS first when the model adds it), cut into chunks of --ctx tokens, each chunk's first token replaced
/// by BOS, and only the second half of each chunk scored.
/// </summary>
public sealed class PerplexityCommand : Command<PerplexityCommand.Settings>
{
    public sealed class Settings : ModelSettings
    {
        [CommandOption("-f|--file <TEXT>")] [Description("UTF-8 text file to score.")]
        public string? File { get; init; }

        [CommandOption("-c|--ctx <N>")] [DefaultValue(512)] [Description("Tokens per chunk (the text must hold at least two chunks).")]
        public int Ctx { get; init; }

        [CommandOption("--chunks <N>")] [Description("Score at most N chunks.")]
        public int? Chunks { get; init; }

        [CommandOption("--json")] [Description("Print {\"perplexity\",\"nll\",\"chunks\",\"scored_tokens\",\"tokens\"}.")]
        public bool Json { get; init; }

        public override ValidationResult Validate()
        {
            if (File == null) return ValidationResult.Error("--file is required");
            if (Ctx < 4) return ValidationResult.Error("--ctx must be at least 4");
            if (Chunks is <= 0) return ValidationResult.Error("--chunks must be positive");
            return base.Validate();
        }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        if (!System.IO.File.Exists(s.File)) throw new FileNotFoundException($"{s.File}: file not found");
        using var model = s.Load();
        if (s.Ctx > model.ContextLength) throw new ArgumentException($"--ctx {s.Ctx} exceeds the model's context of {model.ContextLength}");
        var tokens = model.Tokenizer.Encode(System.IO.File.ReadAllText(s.File!), addSpecial: true, parseSpecial: true);
        int nCtx = s.Ctx;
        if (tokens.Length < 2 * nCtx)
            throw new ArgumentException($"{s.File} tokenizes to {tokens.Length} tokens; a context of {nCtx} needs at least {2 * nCtx}");
        int chunks = Math.Min(tokens.Length / nCtx, s.Chunks ?? int.MaxValue);
        int first = nCtx / 2, v = model.VocabSize;
        double nll = 0;
        long count = 0;
        var chunk = new int[nCtx];
        for (int c = 0; c < chunks; c++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Array.Copy(tokens, c * nCtx, chunk, 0, nCtx);
            if (model.Tokenizer.AddBos && model.Tokenizer.BosId is int bos) chunk[0] = bos;
            var logits = model.Logits(chunk, allPositions: true);
            // Position first + k predicts the original token first + k + 1 (the BOS swap only affects the input).
            for (int k = 0; k < nCtx - 1 - first; k++)
            {
                var row = logits.AsSpan((first + k) * v, v);
                int target = tokens[c * nCtx + first + k + 1];
                nll -= LogSoftmax(row, target);
                count++;
            }
            if (!s.Json) AnsiConsole.MarkupLineInterpolated($"[grey][[{c + 1}]] {Math.Exp(nll / count).ToString("F4", CultureInfo.InvariantCulture)}[/]");
        }
        double ppl = Math.Exp(nll / count);
        if (s.Json)
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"perplexity\":{ppl:R},\"nll\":{nll / count:R},\"chunks\":{chunks},\"scored_tokens\":{count},\"tokens\":{tokens.Length}}}"));
        else Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"perplexity: {ppl:F4} [{chunks} chunks of {nCtx} tokens, {count} scored]"));
        return 0;
    }

    /// <summary>log softmax(row)[target] as llama.cpp computes it: f32 max and exponentials, double sum.</summary>
    private static double LogSoftmax(ReadOnlySpan<float> row, int target)
    {
        float max = float.NegativeInfinity;
        foreach (float x in row) max = MathF.Max(max, x);
        double sum = 0;
        foreach (float x in row) sum += MathF.Exp(x - max);
        return row[target] - max - Math.Log(sum);
    }
}
