using System.IO.Compression;
using System.Text;
using Loom.Formats;
using Loom.Text;
using Loom.Training.Data;

namespace Loom.Training.Lm;

/// <summary>
/// Turns the user's text (files or a folder of .txt / .txt.gz / .md) into token shards: trains a tokenizer
/// when none is given, encodes, and holds out the tail of each document set as validation.
/// </summary>
public static class LmData
{
    public static readonly string[] TextExtensions = [".txt", ".txt.gz", ".md", ".text"];

    /// <summary>Lists the text files under the given paths (files, folders, or shards).</summary>
    public static List<string> ListTextFiles(IEnumerable<string> paths)
    {
        var files = new List<string>();
        foreach (var p in paths)
        {
            if (Directory.Exists(p))
                files.AddRange(Directory.EnumerateFiles(p, "*", SearchOption.AllDirectories)
                    .Where(f => TextExtensions.Any(e => f.EndsWith(e, StringComparison.OrdinalIgnoreCase))).Order(StringComparer.Ordinal));
            else if (File.Exists(p)) files.Add(p);
            else throw new FileNotFoundException($"{p}: no such file or folder", p);
        }
        if (files.Count == 0) throw new ArgumentException($"no text files found in {string.Join(", ", paths)}");
        return files;
    }

    /// <summary>Reads a text file (gzip-compressed when it ends in .gz); rejects binary and empty files.</summary>
    public static string ReadText(string path)
    {
        byte[] bytes;
        using (var fs = File.OpenRead(path))
        using (var ms = new MemoryStream())
        {
            if (path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase))
            {
                try { using var gz = new GZipStream(fs, CompressionMode.Decompress); gz.CopyTo(ms); }
                catch (InvalidDataException e) { throw new ModelFileException(path, "not a valid gzip file: " + e.Message, e); }
            }
            else fs.CopyTo(ms);
            bytes = ms.ToArray();
        }
        if (bytes.Length == 0) throw new ModelFileException(path, "the file is empty");
        int zeros = 0;
        int probe = Math.Min(bytes.Length, 1 << 16);
        for (int i = 0; i < probe; i++) if (bytes[i] == 0) zeros++;
        if (zeros > 0) throw new ModelFileException(path, $"looks binary ({zeros} NUL bytes in the first {probe}); training wants text");
        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>Trains a byte-level BPE tokenizer on the texts with an end-of-text special token.</summary>
    public static BpeTokenizer TrainTokenizer(IEnumerable<string> texts, int vocabSize)
    {
        var trainer = new BpeTrainer(new BpeTrainerOptions
        {
            VocabSize = vocabSize,
            SpecialTokens = ["<|endoftext|>"],
            Eos = "<|endoftext|>",
            PreTokenizer = PreTokenizerKind.Gpt2,
        });
        foreach (var t in texts) trainer.Add(t);
        return trainer.Train();
    }

    /// <summary>Encodes documents (separated by end-of-text) and splits them into train and validation ids.</summary>
    public static (int[] Train, int[] Val) Encode(BpeTokenizer tok, IReadOnlyList<string> docs, double valFraction)
    {
        var all = new List<int>();
        foreach (var d in docs)
        {
            all.AddRange(tok.Encode(d, allowSpecial: false));
            if (tok.EosId is int eos) all.Add(eos);
        }
        int nVal = Math.Max(1, (int)(all.Count * valFraction));
        var arr = all.ToArray();
        return (arr[..^nVal], arr[^nVal..]);
    }

    /// <summary>
    /// Train and validation ids: with <paramref name="valTexts"/> every input token trains and those texts
    /// validate; without, the last <paramref name="valFraction"/> of the input is held out.
    /// </summary>
    public static (int[] Train, int[] Val) Split(BpeTokenizer tok, IReadOnlyList<string> texts, IReadOnlyList<string>? valTexts, double valFraction)
    {
        if (valTexts == null || valTexts.Count == 0) return Encode(tok, texts, valFraction);
        return (EncodeAll(tok, texts), EncodeAll(tok, valTexts));
    }

    private static int[] EncodeAll(BpeTokenizer tok, IReadOnlyList<string> docs)
    {
        var (a, b) = Encode(tok, docs, 0.0001);
        return [.. a, .. b];
    }

    /// <summary>Reads every text file under the given paths.</summary>
    public static List<string> ReadAll(IEnumerable<string> paths) => ListTextFiles(paths).Select(ReadText).ToList();
}
