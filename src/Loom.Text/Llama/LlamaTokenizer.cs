using System.Text;

namespace Loom.Text;

/// <summary>
/// The tokenizer a <see cref="GgufVocab"/> describes, encoding exactly as llama.cpp's <c>llama_tokenize</c> does:
/// special tokens split out first (longest first; control tokens only when parsing specials), then byte-level BPE
/// over the pre-tokenizer's pieces ("gpt2") or SentencePiece merging by score with byte fallback ("llama").
/// </summary>
public sealed class LlamaTokenizer : ITokenizer
{
    // llama_token_attr bits.
    private const int AttrUnknown = 1 << 1, AttrUnused = 1 << 2, AttrNormal = 1 << 3, AttrControl = 1 << 4,
        AttrUserDefined = 1 << 5, AttrByte = 1 << 6, AttrLStrip = 1 << 8, AttrRStrip = 1 << 9;

    private readonly string[] _text;
    private readonly byte[][] _utf8;
    private readonly float[] _scores;
    private readonly int[] _attr;
    private readonly Dictionary<string, int> _ids;
    private readonly Dictionary<byte[], int>.AlternateLookup<ReadOnlySpan<byte>> _idsByBytes;
    private readonly Dictionary<string, int> _ranks = new(StringComparer.Ordinal);     // "left right" -> rank
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _rankLookup;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _idLookup;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int[]> _wordCache = new(StringComparer.Ordinal);
    private const int MaxCachedWords = 1 << 16;
    private readonly int[] _specialCache;           // ids matched verbatim in text, longest text first
    private readonly byte[][] _pieces;              // token_to_piece(id, special: true)
    private readonly LlamaPreTokenizer? _pre;
    private readonly bool _spm, _ignoreMerges, _addSpacePrefix;
    private readonly bool _escapeWhitespace, _byteEncode = true, _gemma4;   // Gemma 4: SentencePiece-style BPE on raw UTF-8
    private readonly HashSet<int> _eog = [];

    /// <summary>Builds the tokenizer; a <see cref="TokenizerFormatException"/> names the GGUF field when the vocab is inconsistent or unsupported.</summary>
    public LlamaTokenizer(GgufVocab vocab)
    {
        Vocab = vocab;
        int n = vocab.Tokens.Length;
        if (n == 0) throw Fail("tokenizer.ggml.tokens", "is empty");
        if (vocab.Scores != null && vocab.Scores.Length < n) throw Fail("tokenizer.ggml.scores", $"has {vocab.Scores.Length} entries for {n} tokens");
        if (vocab.TokenTypes != null && vocab.TokenTypes.Length < n) throw Fail("tokenizer.ggml.token_type", $"has {vocab.TokenTypes.Length} entries for {n} tokens");

        int? bos, eos, unk;
        switch (vocab.Model)
        {
            case "llama":
                _spm = true;
                (bos, eos, unk) = (1, 2, 0);
                _addSpacePrefix = vocab.AddSpacePrefix ?? true;
                AddBos = vocab.AddBos ?? true;
                AddEos = vocab.AddEos ?? false;
                break;
            case "gpt2":
                (bos, eos, unk) = (11, 11, null);
                var regexes = LlamaPreTokenizer.RegexesFor(vocab.Pre, out _ignoreMerges, out bool defaultAddBos)
                    ?? throw Fail("tokenizer.ggml.pre", $"'{vocab.Pre}' is not supported");
                _pre = new LlamaPreTokenizer(regexes);
                _addSpacePrefix = vocab.AddSpacePrefix ?? false;
                AddBos = vocab.AddBos ?? defaultAddBos;
                AddEos = vocab.AddEos ?? false;
                if (vocab.Pre is "glm4" or "chatglm-bpe") bos = null;
                break;
            case "gemma4":
                // BPE over the whole text with spaces as ▁, split only at newlines, raw UTF-8 with <0xNN> byte tokens.
                (bos, eos, unk) = (null, null, null);
                _gemma4 = _escapeWhitespace = true;
                _byteEncode = false;
                _pre = new LlamaPreTokenizer(["[^\n]+|[\n]+"]);
                AddBos = true;
                AddEos = vocab.AddEos ?? false;
                break;
            default:
                throw Fail("tokenizer.ggml.model", $"'{vocab.Model}' is not supported (expected gpt2, llama or gemma4)");
        }

        _text = new string[n];
        _utf8 = new byte[n][];
        _scores = new float[n];
        _attr = new int[n];
        _ids = new Dictionary<string, int>(n, StringComparer.Ordinal);
        var byBytes = new Dictionary<byte[], int>(n, ByteSpanComparer.Instance);
        for (int i = 0; i < n; i++)
        {
            string word = vocab.Tokens[i] ?? throw Fail("tokenizer.ggml.tokens", $"entry {i} is null");
            if (word.Length == 0) word = $"[EMPTY_{i}]";
            if (!_ids.TryAdd(word, i)) throw Fail("tokenizer.ggml.tokens", $"entries {_ids[word]} and {i} are both '{word}' (llama.cpp rejects duplicates)");
            _text[i] = word;
            _utf8[i] = Encoding.UTF8.GetBytes(word);
            byBytes[_utf8[i]] = i;
            _scores[i] = vocab.Scores?[i] ?? 0f;
            _attr[i] = vocab.TokenTypes == null ? AttrNormal : (int)vocab.TokenTypes[i] switch
            {
                2 => AttrUnknown, 5 => AttrUnused, 1 => AttrNormal, 3 => AttrControl, 4 => AttrUserDefined, 6 => AttrByte,
                _ => 1, // undefined
            };
        }
        _idsByBytes = byBytes.GetAlternateLookup<ReadOnlySpan<byte>>();
        _idLookup = _ids.GetAlternateLookup<ReadOnlySpan<char>>();
        _rankLookup = _ranks.GetAlternateLookup<ReadOnlySpan<char>>();

        if (!_spm)
        {
            for (int r = 0; r < vocab.Merges.Length; r++)
            {
                string m = vocab.Merges[r] ?? throw Fail("tokenizer.ggml.merges", $"entry {r} is null");
                int sp = m.Length > 1 ? m.IndexOf(' ', 1) : -1;
                if (sp < 0 || !_idLookup.ContainsKey(m.AsSpan(0, sp)) || !_idLookup.ContainsKey(m.AsSpan(sp + 1)))
                    throw Fail("tokenizer.ggml.merges", $"entry {r} '{m}' does not name two tokens");
                // llama.cpp keys ranks by the (left, right) split at the first space after the first character;
                // the merge string itself is the same key, the first occurrence winning.
                _ranks.TryAdd(m, r);
            }
            if (vocab.Merges.Length == 0) throw Fail("tokenizer.ggml.merges", "is missing (a gpt2 tokenizer needs merges)");
        }

        BosId = Resolve("tokenizer.ggml.bos_token_id", bos, vocab.BosId);
        EosId = Resolve("tokenizer.ggml.eos_token_id", eos, vocab.EosId);
        UnkId = Resolve("tokenizer.ggml.unknown_token_id", unk, vocab.UnkId);
        int? eot = Resolve("tokenizer.ggml.eot_token_id", null, vocab.EotId);
        int? eom = Resolve("tokenizer.ggml.eom_token_id", null, vocab.EomId);
        Resolve("tokenizer.ggml.seperator_token_id", null, vocab.SepId);
        Resolve("tokenizer.ggml.padding_token_id", null, vocab.PadId);
        if (AddBos && BosId == null) throw Fail("tokenizer.ggml.bos_token_id", "is missing but add_bos_token is set");
        if (AddEos && EosId == null) throw Fail("tokenizer.ggml.eos_token_id", "is missing but add_eos_token is set");
        DetectSpecials(ref eot, ref eom);
        EotId = eot;

        _specialCache = Enumerable.Range(0, n)
            .Where(i => (_attr[i] & (AttrControl | AttrUserDefined | AttrUnknown)) != 0)
            .OrderByDescending(i => _utf8[i].Length).ThenBy(i => i).ToArray();
        ApplyStripRules(vocab);
        _pieces = new byte[n][];
        for (int i = 0; i < n; i++) _pieces[i] = BuildPiece(i);
    }

    /// <summary>The vocabulary this tokenizer was built from.</summary>
    public GgufVocab Vocab { get; }

    /// <summary>Number of token ids.</summary>
    public int VocabSize => _text.Length;

    /// <summary>BOS id as llama.cpp resolves it (the file's, else the model's default when in range).</summary>
    public int? BosId { get; }

    /// <summary>EOS id as llama.cpp resolves it.</summary>
    public int? EosId { get; }

    /// <summary>End-of-turn id (from the file, else found by its text as llama.cpp does).</summary>
    public int? EotId { get; }

    /// <summary>Unknown-token id.</summary>
    public int? UnkId { get; }

    /// <summary>Whether encoding with addSpecial prepends BOS.</summary>
    public bool AddBos { get; }

    /// <summary>Whether encoding with addSpecial appends EOS.</summary>
    public bool AddEos { get; }

    /// <summary>Ids that end generation, as llama.cpp's <c>llama_vocab_is_eog</c> lists them.</summary>
    public IReadOnlySet<int> EndOfGeneration => _eog;

    /// <summary>Whether the id is a control or unknown token (hidden when decoding without specials).</summary>
    public bool IsSpecial(int id) => (_attr[id] & (AttrControl | AttrUnknown)) != 0;

    /// <summary>The token's text as the vocab spells it.</summary>
    public string TokenString(int id) => _text[id];

    /// <summary>Id of a token by its vocab spelling, or null.</summary>
    public int? TokenToId(string text) => _ids.TryGetValue(text, out int id) ? id : null;

    /// <summary>The bytes <c>llama_token_to_piece</c> gives for a token (<paramref name="special"/>: render control tokens).</summary>
    public ReadOnlySpan<byte> Piece(int id, bool special = true)
        => !special && (_attr[id] & (AttrControl | AttrUnknown)) != 0 ? [] : _pieces[id];

    /// <summary>Concatenated pieces of <paramref name="ids"/>.</summary>
    public byte[] DecodeBytes(ReadOnlySpan<int> ids, bool skipSpecial = false)
    {
        var result = new List<byte>(ids.Length * 4);
        foreach (int id in ids)
        {
            if ((uint)id >= (uint)_pieces.Length) throw new ArgumentOutOfRangeException(nameof(ids), $"token id {id} is outside the vocab of {_pieces.Length}");
            result.AddRange(Piece(id, !skipSpecial));
        }
        return result.ToArray();
    }

    /// <summary>Encodes as <c>llama_tokenize(text, add_special, parse_special)</c>.</summary>
    public int[] Encode(string text, bool addSpecial = true, bool parseSpecial = true)
        => EncodeBytes(Encoding.UTF8.GetBytes(text), addSpecial, parseSpecial);

    /// <summary>Encodes UTF-8 bytes as <c>llama_tokenize</c> does.</summary>
    public int[] EncodeBytes(ReadOnlySpan<byte> text, bool addSpecial = true, bool parseSpecial = true)
    {
        var output = new List<int>(text.Length / 3 + 4);
        var fragments = Partition(text, parseSpecial);
        byte[] source = text.ToArray();
        if (_spm)
        {
            bool prevSpecial = true;
            if (addSpecial && AddBos) output.Add(BosId!.Value);
            foreach (var f in fragments)
            {
                if (f.Token >= 0) { output.Add(f.Token); prevSpecial = true; continue; }
                var raw = source.AsSpan(f.Offset, f.Length);
                TokenizeSpm(EscapeWhitespace(raw, _addSpacePrefix && prevSpecial), output);
                prevSpecial = false;
            }
            if (addSpecial && AddEos) output.Add(EosId!.Value);
        }
        else
        {
            if (addSpecial && AddBos) output.Add(BosId!.Value);
            foreach (var f in fragments)
            {
                if (f.Token >= 0) { output.Add(f.Token); continue; }
                TokenizeBpe(source.AsSpan(f.Offset, f.Length), output);
            }
            if (addSpecial && AddEos) output.Add(EosId!.Value);
        }
        return output.ToArray();
    }

    private readonly record struct Fragment(int Token, int Offset, int Length);

    // tokenizer_st_partition: for each special token (longest first), split every text fragment at its occurrences.
    private List<Fragment> Partition(ReadOnlySpan<byte> text, bool parseSpecial)
    {
        var buffer = new List<Fragment>();
        if (text.Length > 0) buffer.Add(new Fragment(-1, 0, text.Length));
        foreach (int id in _specialCache)
        {
            if (!parseSpecial && (_attr[id] & (AttrControl | AttrUnknown)) != 0) continue;
            var needle = _utf8[id];
            for (int k = 0; k < buffer.Count; k++)
            {
                var f = buffer[k];
                if (f.Token >= 0) continue;
                int at = text.Slice(f.Offset, f.Length).IndexOf(needle);
                if (at < 0) continue;
                var parts = new List<Fragment>();
                int offset = f.Offset, length = f.Length;
                bool lstrip = (_attr[id] & AttrLStrip) != 0, rstrip = (_attr[id] & AttrRStrip) != 0;
                while (true)
                {
                    at = text.Slice(offset, length).IndexOf(needle);
                    if (at < 0) { if (length > 0) parts.Add(new Fragment(-1, offset, length)); break; }
                    int left = at;
                    if (lstrip) while (left > 0 && IsCSpace(text[offset + left - 1])) left--;
                    if (left > 0) parts.Add(new Fragment(-1, offset, left));
                    parts.Add(new Fragment(id, 0, 0));
                    int rest = length - at - needle.Length;
                    if (rest <= 0) break;
                    offset += at + needle.Length;
                    length = rest;
                    if (rstrip) while (length > 0 && IsCSpace(text[offset])) { offset++; length--; }
                }
                buffer.RemoveAt(k);
                buffer.InsertRange(k, parts);
                k += parts.Count - 1;
            }
        }
        return buffer;
    }

    private static bool IsCSpace(byte b) => b is (byte)' ' or (byte)'\t' or (byte)'\n' or 0x0B or 0x0C or (byte)'\r';

    // llama_escape_whitespace, with the SentencePiece space prefix.
    private static byte[] EscapeWhitespace(ReadOnlySpan<byte> raw, bool prefix)
    {
        int spaces = 0;
        foreach (byte b in raw) if (b == (byte)' ') spaces++;
        var result = new byte[raw.Length + 2 * spaces + (prefix ? 3 : 0)];
        int j = 0;
        if (prefix) { result[j++] = 0xE2; result[j++] = 0x96; result[j++] = 0x81; }
        foreach (byte b in raw)
        {
            if (b == (byte)' ') { result[j++] = 0xE2; result[j++] = 0x96; result[j++] = 0x81; }
            else result[j++] = b;
        }
        return result;
    }

    private static int Utf8Length(byte lead) => (lead >> 4) switch { 12 or 13 => 2, 14 => 3, 15 => 4, _ => 1 };

    private struct Symbol
    {
        public int Prev, Next, Start, Length;
    }

    // llm_tokenizer_spm_session: merge the adjacent pair whose joined text is the highest-scoring token, leftmost first.
    private void TokenizeSpm(byte[] text, List<int> output)
    {
        var symbols = new List<Symbol>();
        int index = 0;
        for (int offs = 0; offs < text.Length;)
        {
            int len = Math.Min(Utf8Length(text[offs]), text.Length - offs);
            symbols.Add(new Symbol { Start = offs, Length = len, Prev = index - 1, Next = offs + len == text.Length ? -1 : index + 1 });
            offs += len;
            index++;
        }
        // Highest score first, then leftmost: one long key, (-score as ordered bits, left), smallest first.
        var queue = new PriorityQueue<(int Left, int Right, int Size), long>();
        var syms = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(symbols);
        void TryAdd(Span<Symbol> s, int left, int right)
        {
            if (left == -1 || right == -1) return;
            int size = s[left].Length + s[right].Length;
            if (!_idsByBytes.TryGetValue(text.AsSpan(s[left].Start, size), out int id)) return;
            queue.Enqueue((left, right, size), ((long)OrderedBits(-_scores[id]) << 32) | (uint)left);
        }
        for (int i = 1; i < syms.Length; i++) TryAdd(syms, i - 1, i);
        while (queue.TryDequeue(out var bigram, out _))
        {
            ref var l = ref syms[bigram.Left];
            ref var r = ref syms[bigram.Right];
            if (l.Length == 0 || r.Length == 0 || l.Length + r.Length != bigram.Size) continue;
            l.Length += r.Length;
            r.Length = 0;
            l.Next = r.Next;
            if (r.Next >= 0) syms[r.Next].Prev = bigram.Left;
            TryAdd(syms, l.Prev, bigram.Left);
            TryAdd(syms, bigram.Left, l.Next);
        }
        for (int i = syms.Length > 0 ? 0 : -1; i != -1; i = syms[i].Next)
        {
            var piece = text.AsSpan(syms[i].Start, syms[i].Length);
            if (_idsByBytes.TryGetValue(piece, out int id)) { output.Add(id); continue; }
            // A merged symbol is always a token, so only single characters fall back to bytes.
            foreach (byte b in piece) output.Add(ByteToken(b));
        }
    }

    // A float's bits as an int that sorts like the float (-0 taken as 0, as float comparison does).
    private static int OrderedBits(float x)
    {
        int i = BitConverter.SingleToInt32Bits(x == 0 ? 0f : x);
        return i < 0 ? i ^ 0x7FFFFFFF : i;
    }

    private int ByteToken(byte b)
    {
        if (_ids.TryGetValue($"<0x{b:X2}>", out int id)) return id;
        if (b < 0x80 && _ids.TryGetValue(((char)b).ToString(), out id)) return id;
        throw new InvalidOperationException($"the vocab has no byte token <0x{b:X2}> for byte fallback");
    }

    // llm_tokenizer_bpe_session: pre-tokenize, GPT-2 byte-encode each piece, then merge lowest rank first.
    private void TokenizeBpe(ReadOnlySpan<byte> text, List<int> output)
    {
        if (_escapeWhitespace) text = EscapeWhitespace(text, prefix: false);
        var cpts = Codepoints(text);
        var lengths = _pre!.Split(cpts);
        int start = 0;
        var utf8 = new byte[4];
        var word = new StringBuilder();
        foreach (int len in lengths)
        {
            word.Clear();
            for (int i = start; i < start + len; i++)
            {
                var rune = new Rune(cpts[i]);
                if (!_byteEncode) { word.Append(rune.ToString()); continue; }
                int n = rune.EncodeToUtf8(utf8);
                for (int k = 0; k < n; k++) word.Append(ByteLevel.CharOf(utf8[k]));
            }
            start += len;
            BpeWord(word.ToString(), output);
        }
    }

    private void BpeWord(string word, List<int> output)
    {
        if (_wordCache.TryGetValue(word, out var cached)) { output.AddRange(cached); return; }
        int before = output.Count;
        BpeWordUncached(word, output);
        if (_wordCache.Count >= MaxCachedWords) _wordCache.Clear();   // bounded: start over rather than track recency
        _wordCache.TryAdd(word, output.GetRange(before, output.Count - before).ToArray());
    }

    private void BpeWordUncached(string word, List<int> output)
    {
        if (_ignoreMerges && _ids.TryGetValue(word, out int whole)) { output.Add(whole); return; }
        if (_gemma4 && word.AsSpan().IndexOfAnyExcept('\n') < 0 && _ids.TryGetValue(word, out int newlines)) { output.Add(newlines); return; }
        // One symbol per codepoint (byte-level words are one UTF-16 unit each; raw words may hold surrogate pairs).
        var symbols = new List<Symbol>(word.Length);
        for (int i = 0; i < word.Length;)
        {
            int len = char.IsHighSurrogate(word[i]) && i + 1 < word.Length ? 2 : 1;
            symbols.Add(new Symbol { Start = i, Length = len, Prev = symbols.Count - 1, Next = i + len < word.Length ? symbols.Count + 1 : -1 });
            i += len;
        }
        var sym = symbols.ToArray();
        int n = word.Length;
        var queue = new PriorityQueue<(int Left, int Right, int Size), (int Rank, int Left)>();
        char[] key = new char[2 * n + 1];
        void TryAdd(int left, int right)
        {
            if (left == -1 || right == -1) return;
            var a = word.AsSpan(sym[left].Start, sym[left].Length);
            var b = word.AsSpan(sym[right].Start, sym[right].Length);
            // A left part with a space after its first character would split differently in llama.cpp's rank table.
            if (a.Length > 1 && a[1..].Contains(' ')) return;
            a.CopyTo(key);
            key[a.Length] = ' ';
            b.CopyTo(key.AsSpan(a.Length + 1));
            if (_rankLookup.TryGetValue(key.AsSpan(0, a.Length + 1 + b.Length), out int rank))
                queue.Enqueue((left, right, a.Length + b.Length), (rank, left));
        }
        for (int i = 1; i < sym.Length; i++) TryAdd(i - 1, i);
        while (queue.TryDequeue(out var bigram, out _))
        {
            ref var l = ref sym[bigram.Left];
            ref var r = ref sym[bigram.Right];
            // Both alive means still adjacent with fixed starts, so equal size means equal text (llama.cpp compares text).
            if (l.Length == 0 || r.Length == 0 || l.Length + r.Length != bigram.Size) continue;
            l.Length += r.Length;
            r.Length = 0;
            l.Next = r.Next;
            if (r.Next >= 0) sym[r.Next].Prev = bigram.Left;
            TryAdd(l.Prev, bigram.Left);
            TryAdd(bigram.Left, l.Next);
        }
        foreach (var s in sym)
        {
            if (s.Length == 0) continue;
            var piece = word.AsSpan(s.Start, s.Length);
            if (_idLookup.TryGetValue(piece, out int id)) { output.Add(id); continue; }
            // llama.cpp then looks up each UTF-8 byte of the piece as a one-byte token (raw words: as <0xNN>) and drops bytes it lacks.
            foreach (byte b in Encoding.UTF8.GetBytes(piece.ToString()))
            {
                if (!_byteEncode) { if (_ids.TryGetValue($"<0x{b:X2}>", out int hex)) output.Add(hex); }
                else if (b < 0x80 && _idLookup.TryGetValue([(char)b], out int single)) output.Add(single);
            }
        }
    }

    // unicode_cpts_from_utf8: invalid sequences become U+FFFD one byte at a time.
    private static uint[] Codepoints(ReadOnlySpan<byte> text)
    {
        var result = new List<uint>(text.Length);
        for (int i = 0; i < text.Length;)
        {
            if (Rune.DecodeFromUtf8(text.Slice(i), out var r, out int used) == System.Buffers.OperationStatus.Done)
            {
                result.Add((uint)r.Value);
                i += used;
            }
            else
            {
                result.Add(0xFFFD);
                i++;
            }
        }
        return result.ToArray();
    }

    // token_to_piece(id, special: true) as llama.cpp caches it.
    private byte[] BuildPiece(int id)
    {
        int attr = _attr[id];
        if ((attr & (AttrControl | AttrUnknown | AttrUserDefined)) != 0) return _utf8[id];
        if ((attr & AttrNormal) != 0)
        {
            if (_spm || _escapeWhitespace) return Encoding.UTF8.GetBytes(_text[id].Replace('\u2581', ' '));
            return DecodeByteLevel(_text[id]);
        }
        if ((attr & AttrByte) != 0)
        {
            string t = _text[id];
            return t.Length >= 5 && int.TryParse(t.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out int b) ? [(byte)b] : [0];
        }
        return [];
    }

    // llama_decode_text: each codepoint back to its byte; codepoints outside the byte alphabet become [UNK_BYTE_0x..].
    private static byte[] DecodeByteLevel(string text)
    {
        var result = new List<byte>(text.Length);
        Span<byte> u = stackalloc byte[4];
        foreach (var r in text.EnumerateRunes())
        {
            int b = r.Value < 0x10000 ? ByteLevel.ByteOf((char)r.Value) : -1;
            if (b >= 0) { result.Add((byte)b); continue; }
            var sb = new StringBuilder("[UNK_BYTE_0x");
            int n = r.EncodeToUtf8(u);
            for (int k = 0; k < n; k++) sb.Append(u[k].ToString("x2"));
            sb.Append(text).Append(']');
            result.AddRange(Encoding.UTF8.GetBytes(sb.ToString()));
        }
        return result.ToArray();
    }

    private int? Resolve(string field, int? fallback, int? given)
    {
        int n = _text.Length;
        if (fallback is int f && f >= n) fallback = null;
        if (given is int g)
        {
            if (g < 0 || g >= n) throw Fail(field, $"{g} is outside the vocab of {n} tokens");
            return g;
        }
        return fallback;
    }

    // llama.cpp sets strip attributes on some models' special tokens by name (they are not in GGUF).
    private void ApplyStripRules(GgufVocab vocab)
    {
        string name = (vocab.ModelName ?? "").ToLowerInvariant(), pre = vocab.Pre ?? "", arch = vocab.Architecture ?? "";
        void Set(string text, int attr, bool on)
        {
            if (!_ids.TryGetValue(text, out int id)) return;
            _attr[id] = on ? _attr[id] | attr : _attr[id] & ~attr;
        }
        if (new[] { "jina-v2-de", "jina-v2-es", "jina-v2-code" }.Any(pre.Contains) || new[] { "nomic-bert-moe", "jina-bert-v3" }.Any(arch.Contains))
            Set("<mask>", AttrLStrip, true);
        else if (name.Contains("phi-3") || name.Contains("phi3"))
        {
            foreach (int id in _specialCache) _attr[id] |= AttrRStrip;
            Set("</s>", AttrRStrip, true);
            foreach (var t in new[] { "<unk>", "<s>", "<|endoftext|>" }) Set(t, AttrRStrip, false);
        }
        else if (name.Contains("modern-bert")) Set("[MASK]", AttrLStrip, true);
    }

    private static readonly string[] EotTexts = ["<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
        "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>"];
    private static readonly string[][] FimTexts =
    [
        ["<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>", "<|prefix|>"],
        ["<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>", "<|suffix|>"],
        ["<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>", "<|middle|>"],
    ];
    private static readonly string[] FimPadTexts = ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"];
    private static readonly string[] FimRepTexts = ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"];
    private static readonly string[] EogTexts = ["<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
        "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>",
        "<eos>", "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~["];

    // llama.cpp finds EOT/EOM/FIM/EOG tokens by their text and marks them control; tokenization depends on it
    // because control tokens are split out of text only when parsing specials.
    private void DetectSpecials(ref int? eot, ref int? eom)
    {
        int? Find(string[] texts)
        {
            int? best = null;
            foreach (var t in texts) if (_ids.TryGetValue(t, out int id) && (best == null || id < best)) best = id;
            return best;
        }
        void MakeControl(int id) => _attr[id] |= AttrControl;
        if (eot == null && Find(EotTexts) is int e) { eot = e; MakeControl(e); }
        if (eom == null && _ids.TryGetValue("<|eom_id|>", out int m)) { eom = m; MakeControl(m); }
        foreach (var texts in FimTexts) if (Find(texts) is int f) MakeControl(f);
        int? fimPad = Find(FimPadTexts), fimRep = Find(FimRepTexts);
        int? fimSep = _ids.TryGetValue("<|file_sep|>", out int fs) ? fs : null;
        foreach (var id in new[] { fimPad, fimRep, fimSep }) if (id is int x) { MakeControl(x); _eog.Add(x); }
        foreach (var t in EogTexts) if (_ids.TryGetValue(t, out int id)) { _eog.Add(id); MakeControl(id); }
        foreach (var t in new[] { "<|channel|>", "<|message|>", "<|start|>", "<|constrain|>" })
            if (_ids.TryGetValue(t, out int id)) _attr[id] = AttrUserDefined;
        if (EosId is int eos) _eog.Add(eos);
        if (eot is int eo) _eog.Add(eo);
        if (eom is int em) _eog.Add(em);
        bool Has(string t) => _ids.TryGetValue(t, out int id) && _eog.Contains(id);
        if (((Has("<|return|>") && Has("<|call|>")) || ((Has("<|call|>") || Has("<|calls|>")) && Has("<|flush|>"))) && Has("<|end|>"))
        {
            int end = _ids["<|end|>"];
            _eog.Remove(end);
            _attr[end] = AttrUserDefined;
        }
        if (Has("<|tool_response>") && Has("</s>"))
        {
            int s = _ids["</s>"];
            _eog.Remove(s);
            _attr[s] = AttrNormal;
        }
        // Control tokens whose text says "unused" are unused too (attr bit only; they still split out of text).
        for (int i = 0; i < _attr.Length; i++)
            if ((_attr[i] & AttrControl) != 0 && _text[i].Contains("unused", StringComparison.Ordinal)) _attr[i] |= AttrUnused;
    }

    private static TokenizerFormatException Fail(string field, string problem) => new($"{field}: {problem}");
}
