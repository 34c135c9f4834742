using System.ComponentModel;
using System.Diagnostics;
using Loom.Text;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Loom.Cli.Commands;

/// <summary>`loom tokenizer train`: learns a byte-level BPE vocabulary from text files and writes a Hugging Face tokenizer.json.</summary>
public sealed class TokenizerTrainCommand : Command<TokenizerTrainCommand.Settings>
{
    /// <summary>Options of `loom tokenizer train`.</summary>
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "[FILES]")]
        [Description("Training text files (same as --input).")]
        public string[] Files { get; init; } = [];

        [CommandOption("-i|--input <FILE>")]
        [Description("Training text file; repeat the option or list files after it.")]
        public string[] Input { get; init; } = [];

        [CommandOption("-v|--vocab-size <N>")]
        [Description("Total ids: 256 bytes + merges + special tokens.")]
        public int VocabSize { get; init; }

        [CommandOption("-o|--out <PATH>")]
        [Description("Where to write tokenizer.json (.gz compresses it).")]
        public string? Out { get; init; }

        [CommandOption("--pretokenizer <KIND>")]
        [Description("gpt2 or llama3 (default llama3).")]
        [DefaultValue("llama3")]
        public string PreTokenizer { get; init; } = "llama3";

        [CommandOption("--special <TOKEN>")]
        [Description("A special token such as <|endoftext|>; repeat for several.")]
        public string[] Special { get; init; } = [];

        [CommandOption("--bos <TOKEN>")]
        [Description("Special token to prepend as BOS (added to the specials if missing).")]
        public string? Bos { get; init; }

        [CommandOption("--eos <TOKEN>")]
        [Description("Special token to append as EOS (added to the specials if missing).")]
        public string? Eos { get; init; }

        [CommandOption("--min-frequency <N>")]
        [Description("Pairs seen fewer times are never merged.")]
        [DefaultValue(2)]
        public int MinFrequency { get; init; } = 2;

        public override ValidationResult Validate()
        {
            if (Files.Length + Input.Length == 0) return ValidationResult.Error("no input: give --input FILE (one or more)");
            if (VocabSize <= 0) return ValidationResult.Error("--vocab-size N is required");
            if (string.IsNullOrEmpty(Out)) return ValidationResult.Error("--out PATH is required");
            if (ParseKind(PreTokenizer) == null) return ValidationResult.Error($"--pretokenizer must be gpt2 or llama3, not '{PreTokenizer}'");
            return ValidationResult.Success();
        }
    }

    internal static PreTokenizerKind? ParseKind(string s) => s.ToLowerInvariant() switch
    {
        "gpt2" => PreTokenizerKind.Gpt2,
        "llama3" => PreTokenizerKind.Llama3,
        _ => null,
    };

    public override int Execute(CommandContext context, Settings settings, CancellationToken ct)
    {
        var files = settings.Input.Concat(settings.Files).ToList();
        foreach (var f in files)
        {
            if (!File.Exists(f)) throw new FileNotFoundException($"input file '{f}' does not exist");
            if (new FileInfo(f).Length == 0) throw new InvalidDataException($"input file '{f}' is empty");
        }
        var specials = settings.Special.ToList();
        foreach (var t in new[] { settings.Bos, settings.Eos })
            if (t != null && !specials.Contains(t)) specials.Add(t);
        var trainer = new BpeTrainer(new BpeTrainerOptions
        {
            VocabSize = settings.VocabSize,
            MinFrequency = settings.MinFrequency,
            PreTokenizer = ParseKind(settings.PreTokenizer)!.Value,
            SpecialTokens = specials,
            Bos = settings.Bos,
            Eos = settings.Eos,
        });

        var sw = Stopwatch.StartNew();
        long total = 0;
        foreach (var f in files)
            foreach (var chunk in ReadChunks(f))
            {
                ct.ThrowIfCancellationRequested();
                trainer.Add(chunk.Span);
                total += chunk.Length;
            }
        double countSeconds = sw.Elapsed.TotalSeconds;
        sw.Restart();
        var tok = trainer.Train(ct);
        var dir = Path.GetDirectoryName(Path.GetFullPath(settings.Out!));
        if (dir != null) Directory.CreateDirectory(dir);
        TokenizerJson.Save(tok, settings.Out!);
        AnsiConsole.MarkupLineInterpolated(
            $"trained [green]{tok.VocabSize}[/] ids ({tok.Merges.Count} merges, {tok.AddedTokens.Count} special) from {total / 1e6:F1} MB, {trainer.DistinctWords} distinct words: counting {countSeconds:F1} s, merging {sw.Elapsed.TotalSeconds:F1} s -> {settings.Out}");
        if (tok.VocabSize < settings.VocabSize)
            AnsiConsole.MarkupLineInterpolated($"[yellow]note:[/] stopped below {settings.VocabSize}: no pair occurs {settings.MinFrequency}+ times");
        return 0;
    }

    // Files are read in pieces cut right after a newline that precedes an ASCII letter: both pre-tokenizer
    // regexes always end a piece there, so chunking never changes the word counts.
    internal static IEnumerable<ReadOnlyMemory<byte>> ReadChunks(string path, int chunkBytes = 16 << 20)
    {
        using var stream = File.OpenRead(path);
        var buffer = new byte[chunkBytes];
        int filled = 0;
        while (true)
        {
            int read = stream.Read(buffer, filled, buffer.Length - filled);
            filled += read;
            if (read == 0)
            {
                if (filled > 0) yield return buffer.AsMemory(0, filled);
                yield break;
            }
            if (filled < buffer.Length) continue;
            int cut = -1;
            for (int i = filled - 2; i >= 0; i--)
                if (buffer[i] == (byte)'\n' && (uint)((buffer[i + 1] | 0x20) - 'a') < 26) { cut = i + 1; break; }
            if (cut <= 0)
            {
                Array.Resize(ref buffer, buffer.Length * 2);   // no safe cut point: read more
                continue;
            }
            yield return buffer.AsMemory(0, cut);
            var next = new byte[buffer.Length];
            Buffer.BlockCopy(buffer, cut, next, 0, filled - cut);
            filled -= cut;
            buffer = next;
        }
    }
}
