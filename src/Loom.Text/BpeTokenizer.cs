using System.Buffers;
using System.Collections.Concurrent;
using System.Text;

namespace Loom.Text;

/// <summary>A token outside the BPE merges (special or user-added), matched verbatim in text before pre-tokenization.</summary>
public sealed record AddedToken(int Id, string Content, bool Special);

/// <summary>Byte-level BPE tokenizer (GPT-2 / Llama 3 family): lossless on any bytes, thread-safe, with a bounded per-word cache.</summary>
public sealed class BpeTokenizer : ITokenizer
{
    private const int MaxCachedWordBytes = 64;
    private const int MaxCacheEntries = 1 << 18;
    private const int SmallWord = 48;

    private readonly byte[][] _tokens;            // id -> bytes it decodes to (added tokens: their UTF-8 content)
    private readonly bool[] _special;
    private readonly int[] _byteToId = new int[256];
    private readonly (int Left, int Right)[] _merges;
    private readonly MergeTable _mergeTable;
    private readonly Dictionary<byte[], int> _vocab;   // model tokens by bytes
    private readonly Dictionary<byte[], int>.AlternateLookup<ReadOnlySpan<byte>> _vocabLookup;
    private readonly AddedToken[] _added;
    private readonly AddedMatcher _matchAll;
    private readonly AddedMatcher _matchNonSpecial;
    private readonly ConcurrentDictionary<byte[], int[]> _cache = new(ByteSpanComparer.Instance);
    private readonly ConcurrentDictionary<byte[], int[]>.AlternateLookup<ReadOnlySpan<byte>> _cacheLookup;
    private int _cacheCount;

    /// <summary>Builds a tokenizer from model tokens (id = index, as raw bytes), merges as id pairs in rank order, and added tokens.</summary>
    public BpeTokenizer(IReadOnlyList<byte[]> vocab, IReadOnlyList<(int Left, int Right)> merges, IEnumerable<AddedToken> addedTokens,
        PreTokenizerKind preTokenizer, bool ignoreMerges = false, int? bosId = null, int? eosId = null)
    {
        PreTokenizer = preTokenizer;
        IgnoreMerges = ignoreMerges;
        ModelVocabSize = vocab.Count;
        _added = addedTokens.OrderBy(t => t.Id).ToArray();
        int size = vocab.Count;
        foreach (var t in _added)
        {
            if (t.Id < 0) throw new ArgumentException($"added token '{t.Content}' has negative id {t.Id}");
            if (t.Content.Length == 0) throw new ArgumentException($"added token {t.Id} is empty");
            size = Math.Max(size, t.Id + 1);
        }
        _tokens = new byte[size][];
        _special = new bool[size];
        _vocab = new Dictionary<byte[], int>(vocab.Count, ByteSpanComparer.Instance);
        for (int id = 0; id < vocab.Count; id++)
        {
            _tokens[id] = vocab[id] ?? throw new ArgumentException($"vocab entry {id} is null");
            _vocab.TryAdd(vocab[id], id);
        }
        foreach (var t in _added)
        {
            _tokens[t.Id] = Encoding.UTF8.GetBytes(t.Content);
            _special[t.Id] = t.Special;
        }
        for (int id = 0; id < size; id++)
            if (_tokens[id] == null) throw new ArgumentException($"token id {id} is neither in the vocab nor an added token (ids must be contiguous)");
        _vocabLookup = _vocab.GetAlternateLookup<ReadOnlySpan<byte>>();
        for (int b = 0; b < 256; b++)
        {
            ReadOnlySpan<byte> one = [(byte)b];
            if (!_vocabLookup.TryGetValue(one, out _byteToId[b]))
                throw new ArgumentException($"the vocab has no token for byte 0x{b:X2}; byte-level BPE needs all 256");
        }

        _merges = merges.ToArray();
        _mergeTable = new MergeTable(_merges.Length);
        var buffer = new byte[256];
        for (int r = 0; r < _merges.Length; r++)
        {
            var (a, c) = _merges[r];
            if ((uint)a >= (uint)vocab.Count || (uint)c >= (uint)vocab.Count)
                throw new ArgumentException($"merge {r} refers to id outside the vocab ({a}, {c})");
            int len = _tokens[a].Length + _tokens[c].Length;
            if (buffer.Length < len) buffer = new byte[len * 2];
            _tokens[a].CopyTo(buffer, 0);
            _tokens[c].CopyTo(buffer, _tokens[a].Length);
            if (!_vocabLookup.TryGetValue(buffer.AsSpan(0, len), out int merged))
                throw new ArgumentException($"merge {r} ({ByteLevel.Encode(_tokens[a])} {ByteLevel.Encode(_tokens[c])}) produces a token missing from the vocab");
            _mergeTable.Set(a, c, r, merged);
        }

        if (bosId is { } bos && (uint)bos >= (uint)size) throw new ArgumentException($"BOS id {bos} is outside the vocab");
        if (eosId is { } eos && (uint)eos >= (uint)size) throw new ArgumentException($"EOS id {eos} is outside the vocab");
        BosId = bosId;
        EosId = eosId;
        _matchAll = new AddedMatcher(_added);
        _matchNonSpecial = new AddedMatcher(_added.Where(t => !t.Special));
        _cacheLookup = _cache.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    /// <summary>The pre-tokenizer that splits text into words before merging.</summary>
    public PreTokenizerKind PreTokenizer { get; }

    /// <summary>When set, a word that is itself a vocab entry is emitted whole without running merges (Llama 3's <c>ignore_merges</c>).</summary>
    public bool IgnoreMerges { get; }

    /// <summary>Number of ids, model tokens and added tokens together.</summary>
    public int VocabSize => _tokens.Length;

    /// <summary>Number of BPE model tokens (ids 0 .. ModelVocabSize-1).</summary>
    public int ModelVocabSize { get; }

    /// <summary>Id prepended when encoding with addBos, if the tokenizer defines one.</summary>
    public int? BosId { get; }

    /// <summary>Id appended when encoding with addEos, if the tokenizer defines one.</summary>
    public int? EosId { get; }

    /// <summary>Whether prompts start with BOS: true when the tokenizer defines one.</summary>
    public bool AddBos => BosId.HasValue;

    /// <summary>Generation ends at EOS.</summary>
    public IReadOnlySet<int> EndOfGeneration => _endOfGeneration ??= EosId is int e ? new HashSet<int> { e } : new HashSet<int>();
    private HashSet<int>? _endOfGeneration;

    int[] ITokenizer.Encode(string text, bool addSpecial, bool parseSpecial) => Encode(text, addSpecial && AddBos, false, parseSpecial);

    /// <summary>Merges in rank order, as id pairs.</summary>
    public IReadOnlyList<(int Left, int Right)> Merges => _merges;

    /// <summary>Added tokens in id order.</summary>
    public IReadOnlyList<AddedToken> AddedTokens => _added;

    /// <summary>The bytes token <paramref name="id"/> decodes to.</summary>
    public ReadOnlySpan<byte> TokenBytes(int id) => _tokens[id];

    /// <summary>Whether <paramref name="id"/> is a special token (skipped by decode with skipSpecial).</summary>
    public bool IsSpecial(int id) => _special[id];

    /// <summary>Empties the per-word cache (for cold-start measurements; encoding results never depend on it).</summary>
    public void ClearCache()
    {
        _cache.Clear();
        Interlocked.Exchange(ref _cacheCount, 0);
    }

    /// <summary>The vocab-file spelling of a token: byte-level characters for model tokens, the content for added tokens.</summary>
    public string TokenString(int id)
    {
        foreach (var t in _added) if (t.Id == id) return t.Content;
        return ByteLevel.Encode(_tokens[id]);
    }

    /// <summary>Id of an added token by content or a model token by vocab-file spelling; null when absent.</summary>
    public int? TokenToId(string token)
    {
        foreach (var t in _added) if (t.Content == token) return t.Id;
        var bytes = ByteLevel.TryDecode(token);
        return bytes != null && _vocab.TryGetValue(bytes, out int id) ? id : null;
    }

    /// <summary>Encodes a string (as UTF-8). Added special tokens in the text are matched when <paramref name="allowSpecial"/>.</summary>
    public int[] Encode(string text, bool addBos = false, bool addEos = false, bool allowSpecial = true)
    {
        int max = Encoding.UTF8.GetMaxByteCount(text.Length);
        byte[] rented = ArrayPool<byte>.Shared.Rent(max);
        try
        {
            int n = Encoding.UTF8.GetBytes(text, rented);
            return EncodeBytes(rented.AsSpan(0, n), addBos, addEos, allowSpecial);
        }
        finally { ArrayPool<byte>.Shared.Return(rented); }
    }

    /// <summary>Encodes arbitrary bytes (valid UTF-8 or not); <see cref="DecodeBytes(ReadOnlySpan{int}, bool)"/> gives them back exactly.</summary>
    public int[] EncodeBytes(ReadOnlySpan<byte> bytes, bool addBos = false, bool addEos = false, bool allowSpecial = true)
    {
        var output = new List<int>(bytes.Length / 3 + 4);
        if (addBos) output.Add(BosId ?? throw new InvalidOperationException("this tokenizer defines no BOS token"));
        EncodeBytes(bytes, output, allowSpecial);
        if (addEos) output.Add(EosId ?? throw new InvalidOperationException("this tokenizer defines no EOS token"));
        return output.ToArray();
    }

    /// <summary>Appends the ids of <paramref name="bytes"/> to <paramref name="output"/>.</summary>
    public void EncodeBytes(ReadOnlySpan<byte> bytes, List<int> output, bool allowSpecial = true)
    {
        var matcher = allowSpecial ? _matchAll : _matchNonSpecial;
        while (!bytes.IsEmpty)
        {
            int at = matcher.Find(bytes, out int len, out int id);
            if (at < 0) { EncodeOrdinary(bytes, output); return; }
            EncodeOrdinary(bytes.Slice(0, at), output);
            output.Add(id);
            bytes = bytes.Slice(at + len);
        }
    }

    /// <summary>Position of the first added token (special or not) in <paramref name="text"/>, or -1.</summary>
    internal int FindAdded(ReadOnlySpan<byte> text, out int length) => _matchAll.Find(text, out length, out _);

    /// <summary>Encodes text with no added-token matching: pre-tokenize, then BPE each word.</summary>
    private void EncodeOrdinary(ReadOnlySpan<byte> text, List<int> output)
    {
        var kind = PreTokenizer;
        for (int i = 0; i < text.Length;)
        {
            int end = Loom.Text.PreTokenizer.Next(kind, text, i);
            EncodeWord(text.Slice(i, end - i), output);
            i = end;
        }
    }

    private void EncodeWord(ReadOnlySpan<byte> word, List<int> output)
    {
        if (word.Length == 1) { output.Add(_byteToId[word[0]]); return; }
        bool cacheable = word.Length <= MaxCachedWordBytes;
        if (cacheable && _cacheLookup.TryGetValue(word, out var cached))
        {
            output.AddRange(cached);
            return;
        }
        if (IgnoreMerges && _vocabLookup.TryGetValue(word, out int whole))
        {
            output.Add(whole);
            return;
        }
        int[]? rented = null;
        Span<int> syms = word.Length <= 256 ? stackalloc int[word.Length] : (rented = ArrayPool<int>.Shared.Rent(word.Length));
        int n = Bpe(word, syms);
        var ids = syms.Slice(0, n);
        foreach (int id in ids) output.Add(id);
        if (cacheable)
        {
            // Bounded: when full, start over rather than track recency; real text re-fills the hot words at once.
            if (Interlocked.Increment(ref _cacheCount) > MaxCacheEntries)
            {
                _cache.Clear();
                Interlocked.Exchange(ref _cacheCount, 0);
            }
            _cacheLookup.TryAdd(word, ids.ToArray());
        }
        if (rented != null) ArrayPool<int>.Shared.Return(rented);
    }

    /// <summary>Runs the merges on one word; writes the resulting ids to <paramref name="syms"/> and returns their count.</summary>
    internal int Bpe(ReadOnlySpan<byte> word, Span<int> syms)
    {
        int n = word.Length;
        for (int k = 0; k < n; k++) syms[k] = _byteToId[word[k]];
        if (n < 2) return n;
        return n <= SmallWord ? MergeSmall(syms, n) : MergeLarge(syms, n);
    }

    // Short words: keep the rank of every adjacent pair, merge the lowest (leftmost on ties), refresh its two neighbours.
    private int MergeSmall(Span<int> syms, int n)
    {
        Span<int> rank = stackalloc int[n];
        Span<int> result = stackalloc int[n];
        for (int i = 0; i < n - 1; i++) Lookup(syms[i], syms[i + 1], out rank[i], out result[i]);
        while (n > 1)
        {
            int best = -1, bestRank = int.MaxValue;
            for (int i = 0; i < n - 1; i++)
                if (rank[i] < bestRank) { bestRank = rank[i]; best = i; }
            if (best < 0) break;
            syms[best] = result[best];
            int tail = n - best - 2;
            syms.Slice(best + 2, tail).CopyTo(syms.Slice(best + 1));
            rank.Slice(best + 2, tail).CopyTo(rank.Slice(best + 1));
            result.Slice(best + 2, tail).CopyTo(result.Slice(best + 1));
            n--;
            if (best > 0) Lookup(syms[best - 1], syms[best], out rank[best - 1], out result[best - 1]);
            if (best < n - 1) Lookup(syms[best], syms[best + 1], out rank[best], out result[best]);
        }
        return n;
    }

    private void Lookup(int left, int right, out int rank, out int result)
    {
        if (!_mergeTable.TryGet(left, right, out rank, out result)) rank = int.MaxValue;
    }

    // Long words (long runs of one character class): linked list plus a heap keyed by (rank, position),
    // the same order Hugging Face merges in, so the cost stays O(n log n).
    private int MergeLarge(Span<int> syms, int n)
    {
        var next = new int[n];
        var prev = new int[n];
        var sym = syms.Slice(0, n).ToArray();
        var heap = new PriorityQueue<int, long>();
        for (int i = 0; i < n; i++) { next[i] = i + 1 < n ? i + 1 : -1; prev[i] = i - 1; }
        for (int i = 0; i + 1 < n; i++)
            if (_mergeTable.TryGet(sym[i], sym[i + 1], out int r, out _)) heap.Enqueue(i, ((long)r << 32) | (uint)i);
        while (heap.TryDequeue(out int pos, out long key))
        {
            int r = (int)(key >> 32);
            if (sym[pos] < 0 || next[pos] < 0) continue;
            int nx = next[pos];
            if (!_mergeTable.TryGet(sym[pos], sym[nx], out int cur, out int merged) || cur != r) continue;
            sym[pos] = merged;
            sym[nx] = -1;
            next[pos] = next[nx];
            if (next[pos] >= 0) prev[next[pos]] = pos;
            if (prev[pos] >= 0 && _mergeTable.TryGet(sym[prev[pos]], sym[pos], out int rl, out _))
                heap.Enqueue(prev[pos], ((long)rl << 32) | (uint)prev[pos]);
            if (next[pos] >= 0 && _mergeTable.TryGet(sym[pos], sym[next[pos]], out int rr, out _))
                heap.Enqueue(pos, ((long)rr << 32) | (uint)pos);
        }
        int count = 0;
        for (int i = 0; i >= 0; i = next[i]) syms[count++] = sym[i];
        return count;
    }

    /// <summary>Concatenates the bytes of <paramref name="ids"/>; any id sequence decodes, including ones that split UTF-8 characters.</summary>
    public byte[] DecodeBytes(ReadOnlySpan<int> ids, bool skipSpecial = false)
    {
        int total = 0;
        foreach (int id in ids)
        {
            if ((uint)id >= (uint)_tokens.Length) throw new ArgumentOutOfRangeException(nameof(ids), $"token id {id} is outside the vocab (size {_tokens.Length})");
            if (!(skipSpecial && _special[id])) total += _tokens[id].Length;
        }
        var result = new byte[total];
        int at = 0;
        foreach (int id in ids)
        {
            if (skipSpecial && _special[id]) continue;
            _tokens[id].CopyTo(result, at);
            at += _tokens[id].Length;
        }
        return result;
    }

    /// <summary>Decodes to a string; byte sequences that are not valid UTF-8 become U+FFFD.</summary>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecial = false) => Encoding.UTF8.GetString(DecodeBytes(ids, skipSpecial));

    /// <summary>Finds the earliest (then longest) added token in a byte span.</summary>
    private sealed class AddedMatcher
    {
        private readonly SearchValues<byte>? _first;
        private readonly (byte[] Bytes, int Id)[]?[] _byFirst = new (byte[], int)[]?[256];

        public AddedMatcher(IEnumerable<AddedToken> tokens)
        {
            var groups = tokens.Select(t => (Bytes: Encoding.UTF8.GetBytes(t.Content), t.Id)).GroupBy(t => t.Bytes[0]);
            var firsts = new List<byte>();
            foreach (var g in groups)
            {
                _byFirst[g.Key] = g.OrderByDescending(t => t.Bytes.Length).ToArray();
                firsts.Add(g.Key);
            }
            if (firsts.Count > 0) _first = SearchValues.Create(firsts.ToArray());
        }

        public int Find(ReadOnlySpan<byte> text, out int length, out int id)
        {
            length = 0; id = -1;
            if (_first == null) return -1;
            int offset = 0;
            while (true)
            {
                int i = text.Slice(offset).IndexOfAny(_first);
                if (i < 0) return -1;
                i += offset;
                foreach (var (bytes, tid) in _byFirst[text[i]]!)
                {
                    if (text.Slice(i).StartsWith(bytes)) { length = bytes.Length; id = tid; return i; }
                }
                offset = i + 1;
            }
        }
    }
}
