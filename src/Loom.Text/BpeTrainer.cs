using System.Runtime.InteropServices;
using System.Text;

namespace Loom.Text;

/// <summary>Settings for <see cref="BpeTrainer"/>.</summary>
public sealed record BpeTrainerOptions
{
    /// <summary>Total ids wanted: 256 byte tokens + merges + special tokens.</summary>
    public int VocabSize { get; init; } = 8192;

    /// <summary>A pair seen fewer times than this is never merged (training may then stop below VocabSize).</summary>
    public int MinFrequency { get; init; } = 2;

    /// <summary>Special tokens, given the ids after the BPE tokens in this order; they never take part in merges.</summary>
    public IReadOnlyList<string> SpecialTokens { get; init; } = [];

    /// <summary>The pre-tokenizer used for training and stored in the tokenizer.</summary>
    public PreTokenizerKind PreTokenizer { get; init; } = PreTokenizerKind.Llama3;

    /// <summary>Special token used as BOS (must be in SpecialTokens), or null.</summary>
    public string? Bos { get; init; }

    /// <summary>Special token used as EOS (must be in SpecialTokens), or null.</summary>
    public string? Eos { get; init; }
}

/// <summary>Trains a byte-level BPE tokenizer: counts pre-token words, then merges with incremental pair counts and a lazy max-heap.</summary>
/// <remarks>Deterministic: ties in pair frequency go to the pair with the smaller (left, right) ids.</remarks>
public sealed class BpeTrainer
{
    private readonly BpeTrainerOptions _options;
    private readonly Dictionary<byte[], long> _words = new(ByteSpanComparer.Instance);
    private readonly Dictionary<byte[], long>.AlternateLookup<ReadOnlySpan<byte>> _wordLookup;
    private readonly BpeTokenizer _splitter;   // only used to cut special tokens out of training text

    /// <summary>Creates a trainer; checks the options at once so bad input fails before any text is read.</summary>
    public BpeTrainer(BpeTrainerOptions options)
    {
        _options = options;
        var specials = options.SpecialTokens;
        if (specials.Any(string.IsNullOrEmpty)) throw new ArgumentException("special tokens must be non-empty");
        if (specials.Distinct().Count() != specials.Count) throw new ArgumentException("special tokens must be distinct");
        if (options.VocabSize < 256 + specials.Count)
            throw new ArgumentException($"vocab size {options.VocabSize} is too small: it must be at least 256 byte tokens + {specials.Count} special tokens = {256 + specials.Count}");
        if (options.MinFrequency < 1) throw new ArgumentException("min frequency must be at least 1");
        if (options.Bos != null && !specials.Contains(options.Bos)) throw new ArgumentException($"BOS '{options.Bos}' is not among the special tokens");
        if (options.Eos != null && !specials.Contains(options.Eos)) throw new ArgumentException($"EOS '{options.Eos}' is not among the special tokens");
        _wordLookup = _words.GetAlternateLookup<ReadOnlySpan<byte>>();
        var bytes = new byte[256][];
        for (int b = 0; b < 256; b++) bytes[b] = [(byte)b];
        _splitter = new BpeTokenizer(bytes, [], specials.Select((s, i) => new AddedToken(256 + i, s, true)), options.PreTokenizer);
    }

    /// <summary>Number of distinct pre-token words counted so far.</summary>
    public int DistinctWords => _words.Count;

    /// <summary>Counts the words of a text.</summary>
    public void Add(string text) => Add(Encoding.UTF8.GetBytes(text));

    /// <summary>Counts the words of UTF-8 (or arbitrary) bytes; special tokens in the text are cut out, not learned.</summary>
    public void Add(ReadOnlySpan<byte> text)
    {
        var ids = new List<int>();
        while (!text.IsEmpty)
        {
            int at = _splitter.FindAdded(text, out int len);
            var plain = at < 0 ? text : text.Slice(0, at);
            for (int i = 0; i < plain.Length;)
            {
                int end = PreTokenizer.Next(_options.PreTokenizer, plain, i);
                CollectionsMarshal.GetValueRefOrAddDefault(_wordLookup, plain.Slice(i, end - i), out _)++;
                i = end;
            }
            if (at < 0) break;
            text = text.Slice(at + len);
        }
    }

    /// <summary>Runs the merges and returns the tokenizer.</summary>
    public BpeTokenizer Train(CancellationToken ct = default)
    {
        var specials = _options.SpecialTokens;
        int targetMerges = _options.VocabSize - specials.Count - 256;
        var vocab = new List<byte[]>(_options.VocabSize);
        for (int b = 0; b < 256; b++) vocab.Add([(byte)b]);
        var merges = new List<(int, int)>(targetMerges);

        // Words in a fixed order (by bytes) so that nothing depends on dictionary layout.
        var entries = _words.ToArray();
        Array.Sort(entries, (x, y) => x.Key.AsSpan().SequenceCompareTo(y.Key));
        int nWords = entries.Length;
        var syms = new int[nWords][];
        var lens = new int[nWords];
        var counts = new long[nWords];
        var pairCounts = new Dictionary<long, long>();
        var where = new Dictionary<long, List<int>>();
        for (int w = 0; w < nWords; w++)
        {
            var key = entries[w].Key;
            counts[w] = entries[w].Value;
            syms[w] = new int[key.Length];
            for (int k = 0; k < key.Length; k++) syms[w][k] = key[k];
            lens[w] = key.Length;
            for (int k = 0; k + 1 < key.Length; k++)
            {
                long p = Pair(key[k], key[k + 1]);
                CollectionsMarshal.GetValueRefOrAddDefault(pairCounts, p, out _) += counts[w];
                ref var list = ref CollectionsMarshal.GetValueRefOrAddDefault(where, p, out _);
                list ??= [];
                if (list.Count == 0 || list[^1] != w) list.Add(w);
            }
        }

        // Max-heap on count, ties to the smaller pair; entries go stale as counts change and are re-checked when popped.
        var heap = new PriorityQueue<long, (long Count, long Pair)>(Comparer<(long Count, long Pair)>.Create(
            (x, y) => x.Count != y.Count ? y.Count.CompareTo(x.Count) : x.Pair.CompareTo(y.Pair)));
        foreach (var (p, c) in pairCounts) heap.Enqueue(p, (c, p));

        var changes = new Dictionary<long, long>();
        var touched = new HashSet<int>();
        while (merges.Count < targetMerges && heap.TryDequeue(out long pair, out var prio))
        {
            ct.ThrowIfCancellationRequested();
            long current = pairCounts.GetValueOrDefault(pair);
            if (current != prio.Count)
            {
                if (current > 0) heap.Enqueue(pair, (current, pair));
                continue;
            }
            if (current < _options.MinFrequency) break;

            int a = (int)(pair >> 32), b = (int)(uint)pair;
            int z = vocab.Count;
            vocab.Add([.. vocab[a], .. vocab[b]]);
            merges.Add((a, b));

            changes.Clear();
            touched.Clear();
            foreach (int w in where[pair])
            {
                if (!touched.Add(w)) continue;
                MergeWord(syms[w], ref lens[w], counts[w], a, b, z, changes, where, w);
            }
            where.Remove(pair);
            foreach (var (p, d) in changes)
            {
                if (d == 0) continue;
                ref long c = ref CollectionsMarshal.GetValueRefOrAddDefault(pairCounts, p, out _);
                c += d;
                if (d > 0) heap.Enqueue(p, (c, p));
                else if (c == 0) pairCounts.Remove(p);
            }
        }

        var added = specials.Select((s, i) => new AddedToken(vocab.Count + i, s, true)).ToList();
        int? Id(string? s) => s == null ? null : added.First(t => t.Content == s).Id;
        return new BpeTokenizer(vocab, merges, added, _options.PreTokenizer, ignoreMerges: false, Id(_options.Bos), Id(_options.Eos));
    }

    private static long Pair(int a, int b) => ((long)a << 32) | (uint)b;

    // Replaces every (a, b) in the word by z, left to right, and records the pair-count deltas:
    // the old pairs around each merge go away and the pairs with z appear.
    private static void MergeWord(int[] s, ref int len, long count, int a, int b, int z,
        Dictionary<long, long> changes, Dictionary<long, List<int>> where, int w)
    {
        int n = len, o = 0;
        bool any = false, prevMerged = false;
        for (int i = 0; i < n; i++)
        {
            if (i + 1 < n && s[i] == a && s[i + 1] == b)
            {
                if (o > 0)
                {
                    // The left neighbour is already final; when it is a z made just before, its old pair
                    // (b, a) was removed as that merge's right neighbour.
                    if (!prevMerged) Add(changes, Pair(s[o - 1], a), -count);
                    Add(changes, Pair(s[o - 1], z), count);
                    AddWhere(where, Pair(s[o - 1], z), w);
                }
                if (i + 2 < n)
                {
                    Add(changes, Pair(b, s[i + 2]), -count);
                    // If the right neighbour starts another (a, b) it becomes z too; that pair is added then, as a left neighbour.
                    if (!(i + 3 < n && s[i + 2] == a && s[i + 3] == b))
                    {
                        Add(changes, Pair(z, s[i + 2]), count);
                        AddWhere(where, Pair(z, s[i + 2]), w);
                    }
                }
                Add(changes, Pair(a, b), -count);
                s[o++] = z;
                i++;
                any = prevMerged = true;
            }
            else
            {
                s[o++] = s[i];
                prevMerged = false;
            }
        }
        if (any) len = o;
    }

    private static void Add(Dictionary<long, long> d, long key, long delta) => CollectionsMarshal.GetValueRefOrAddDefault(d, key, out _) += delta;

    private static void AddWhere(Dictionary<long, List<int>> where, long p, int w)
    {
        ref var list = ref CollectionsMarshal.GetValueRefOrAddDefault(where, p, out _);
        list ??= [];
        if (list.Count == 0 || list[^1] != w) list.Add(w);
    }
}
