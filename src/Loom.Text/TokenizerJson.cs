using System.IO.Compression;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Loom.Text;

/// <summary>Raised when a tokenizer.json cannot be read; the message names the file and the offending field.</summary>
public sealed class TokenizerFormatException(string message) : Exception(message);

/// <summary>Reads and writes Hugging Face tokenizer.json files for byte-level BPE tokenizers (plain or .gz).</summary>
public static class TokenizerJson
{
    /// <summary>Loads a tokenizer.json (gzip-compressed when the name ends in .gz).</summary>
    public static BpeTokenizer Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"tokenizer file '{path}' does not exist", path);
        using var file = File.OpenRead(path);
        using Stream stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
        return Read(stream, path);
    }

    /// <summary>Saves as tokenizer.json (gzip-compressed when the name ends in .gz), replacing the file only once it is complete.</summary>
    public static void Save(BpeTokenizer tokenizer, string path)
    {
        string tmp = path + ".tmp";
        using (var file = File.Create(tmp))
        using (Stream stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionLevel.Optimal) : file)
            Write(tokenizer, stream);
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Parses tokenizer.json content; <paramref name="name"/> is used in error messages.</summary>
    public static BpeTokenizer Read(Stream stream, string name)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(stream, new JsonDocumentOptions { MaxDepth = 256 }); }
        catch (JsonException e) { throw new TokenizerFormatException($"{name}: not valid JSON: {e.Message}"); }
        using (doc) return new Reader(name).Read(doc.RootElement);
    }

    private sealed class Reader(string name)
    {
        private Exception Fail(string field, string message) => new TokenizerFormatException($"{name}: {field}: {message}");

        private static string? TypeOf(JsonElement e) => e.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;

        private static bool IsNull(JsonElement parent, string prop) => !parent.TryGetProperty(prop, out var v) || v.ValueKind == JsonValueKind.Null;

        private bool Bool(JsonElement e, string prop, bool dflt, string field)
        {
            if (!e.TryGetProperty(prop, out var v) || v.ValueKind == JsonValueKind.Null) return dflt;
            return v.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw Fail($"{field}.{prop}", "expected true or false"),
            };
        }

        public BpeTokenizer Read(JsonElement root)
        {
            if (root.ValueKind != JsonValueKind.Object) throw Fail("(root)", "expected a JSON object");
            if (!IsNull(root, "normalizer"))
                throw Fail("normalizer", $"type '{TypeOf(root.GetProperty("normalizer"))}' is not supported (byte-level BPE here takes no normalizer; expected null)");
            var kind = ReadPreTokenizer(root);
            if (!IsNull(root, "decoder"))
            {
                var d = root.GetProperty("decoder");
                if (TypeOf(d) != "ByteLevel") throw Fail("decoder.type", $"'{TypeOf(d)}' is not supported (expected ByteLevel)");
            }
            var added = ReadAddedTokens(root);
            var (vocab, merges, ignoreMerges) = ReadModel(root, added);
            var (bos, eos) = ReadPostProcessor(root, added);
            try { return new BpeTokenizer(vocab, merges, added, kind, ignoreMerges, bos, eos); }
            catch (ArgumentException e) { throw new TokenizerFormatException($"{name}: model: {e.Message}"); }
        }

        private PreTokenizerKind ReadPreTokenizer(JsonElement root)
        {
            if (IsNull(root, "pre_tokenizer")) throw Fail("pre_tokenizer", "missing; expected ByteLevel, Split or Sequence");
            PreTokenizerKind? kind = null;
            Walk(root.GetProperty("pre_tokenizer"), "pre_tokenizer");
            return kind ?? throw Fail("pre_tokenizer", "has no splitting regex (a ByteLevel with use_regex or a Split)");

            void Walk(JsonElement p, string field)
            {
                switch (TypeOf(p))
                {
                    case "Sequence":
                        if (!p.TryGetProperty("pretokenizers", out var list) || list.ValueKind != JsonValueKind.Array)
                            throw Fail(field + ".pretokenizers", "expected an array");
                        int i = 0;
                        foreach (var item in list.EnumerateArray()) Walk(item, $"{field}.pretokenizers[{i++}]");
                        break;
                    case "ByteLevel":
                        if (Bool(p, "add_prefix_space", false, field)) throw Fail(field + ".add_prefix_space", "true is not supported");
                        if (Bool(p, "use_regex", true, field)) Set(PreTokenizerKind.Gpt2, field);
                        break;
                    case "Split":
                        string? regex = p.TryGetProperty("pattern", out var pat) && pat.ValueKind == JsonValueKind.Object
                            && pat.TryGetProperty("Regex", out var r) ? r.GetString() : null;
                        if (regex == PreTokenizer.Gpt2Pattern) Set(PreTokenizerKind.Gpt2, field);
                        else if (regex == PreTokenizer.Llama3Pattern) Set(PreTokenizerKind.Llama3, field);
                        else throw Fail(field + ".pattern", $"regex {JsonSerializer.Serialize(regex)} is not supported (only the GPT-2 and Llama 3 patterns)");
                        string? behavior = p.TryGetProperty("behavior", out var b) ? b.GetString() : null;
                        if (behavior != "Isolated") throw Fail(field + ".behavior", $"'{behavior}' is not supported (expected Isolated)");
                        if (Bool(p, "invert", false, field)) throw Fail(field + ".invert", "true is not supported");
                        break;
                    default:
                        throw Fail(field + ".type", $"'{TypeOf(p)}' is not supported (expected ByteLevel, Split or Sequence)");
                }
            }

            void Set(PreTokenizerKind k, string field)
            {
                if (kind != null) throw Fail(field, "a second splitting regex is not supported");
                kind = k;
            }
        }

        private List<AddedToken> ReadAddedTokens(JsonElement root)
        {
            var result = new List<AddedToken>();
            if (IsNull(root, "added_tokens")) return result;
            int i = 0;
            foreach (var t in root.GetProperty("added_tokens").EnumerateArray())
            {
                string field = $"added_tokens[{i++}]";
                if (!t.TryGetProperty("id", out var id) || !id.TryGetInt32(out int idv)) throw Fail(field + ".id", "missing or not an integer");
                if (!t.TryGetProperty("content", out var c) || c.ValueKind != JsonValueKind.String || c.GetString()!.Length == 0)
                    throw Fail(field + ".content", "missing or empty");
                foreach (var flag in new[] { "lstrip", "rstrip", "single_word" })
                    if (Bool(t, flag, false, field)) throw Fail($"{field}.{flag}", "true is not supported");
                result.Add(new AddedToken(idv, c.GetString()!, Bool(t, "special", false, field)));
            }
            return result;
        }

        private (List<byte[]> Vocab, List<(int, int)> Merges, bool IgnoreMerges) ReadModel(JsonElement root, List<AddedToken> added)
        {
            if (IsNull(root, "model")) throw Fail("model", "missing");
            var m = root.GetProperty("model");
            if (TypeOf(m) != "BPE") throw Fail("model.type", $"'{TypeOf(m)}' is not supported (expected BPE)");
            if (!IsNull(m, "dropout") && m.GetProperty("dropout").GetDouble() != 0) throw Fail("model.dropout", "BPE dropout is not supported");
            foreach (var affix in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
                if (!IsNull(m, affix) && m.GetProperty(affix).GetString() != "") throw Fail("model." + affix, "is not supported (expected null)");
            if (Bool(m, "byte_fallback", false, "model")) throw Fail("model.byte_fallback", "true is not supported (byte-level BPE needs no fallback)");
            bool ignoreMerges = Bool(m, "ignore_merges", false, "model");

            if (!m.TryGetProperty("vocab", out var v) || v.ValueKind != JsonValueKind.Object) throw Fail("model.vocab", "missing or not an object");
            var byId = new Dictionary<int, string>();
            var idOf = new Dictionary<string, int>();
            int maxId = -1;
            foreach (var p in v.EnumerateObject())
            {
                if (!p.Value.TryGetInt32(out int id) || id < 0) throw Fail("model.vocab", $"token {JsonSerializer.Serialize(p.Name)} has an invalid id");
                if (!byId.TryAdd(id, p.Name)) throw Fail("model.vocab", $"id {id} appears twice");
                idOf[p.Name] = id;
                maxId = Math.Max(maxId, id);
            }
            var addedById = added.GroupBy(t => t.Id).ToDictionary(g => g.Key, g => g.First());
            var vocab = new List<byte[]>(maxId + 1);
            for (int id = 0; id <= maxId; id++)
            {
                if (byId.TryGetValue(id, out var tok))
                {
                    var bytes = ByteLevel.TryDecode(tok);
                    if (bytes == null && addedById.TryGetValue(id, out var at)) bytes = System.Text.Encoding.UTF8.GetBytes(at.Content);
                    vocab.Add(bytes ?? throw Fail("model.vocab", $"token {JsonSerializer.Serialize(tok)} (id {id}) is not spelled in the ByteLevel alphabet"));
                }
                else if (addedById.TryGetValue(id, out var at)) vocab.Add(System.Text.Encoding.UTF8.GetBytes(at.Content));
                else throw Fail("model.vocab", $"id {id} is missing (ids must be contiguous)");
            }

            if (!m.TryGetProperty("merges", out var ms) || ms.ValueKind != JsonValueKind.Array) throw Fail("model.merges", "missing or not an array");
            var merges = new List<(int, int)>(ms.GetArrayLength());
            int r = 0;
            foreach (var e in ms.EnumerateArray())
            {
                string? a, b;
                if (e.ValueKind == JsonValueKind.String)
                {
                    var s = e.GetString()!;
                    int sp = s.IndexOf(' ');
                    if (sp <= 0 || sp == s.Length - 1) throw Fail($"model.merges[{r}]", $"{JsonSerializer.Serialize(s)} is not 'left right'");
                    a = s[..sp];
                    b = s[(sp + 1)..];
                }
                else if (e.ValueKind == JsonValueKind.Array && e.GetArrayLength() == 2)
                {
                    a = e[0].GetString();
                    b = e[1].GetString();
                }
                else throw Fail($"model.merges[{r}]", "expected \"left right\" or [left, right]");
                if (a == null || !idOf.TryGetValue(a, out int ia)) throw Fail($"model.merges[{r}]", $"token {JsonSerializer.Serialize(a)} is not in model.vocab");
                if (b == null || !idOf.TryGetValue(b, out int ib)) throw Fail($"model.merges[{r}]", $"token {JsonSerializer.Serialize(b)} is not in model.vocab");
                if (!idOf.ContainsKey(a + b)) throw Fail($"model.merges[{r}]", $"merged token {JsonSerializer.Serialize(a + b)} is not in model.vocab");
                merges.Add((ia, ib));
                r++;
            }
            return (vocab, merges, ignoreMerges);
        }

        private (int? Bos, int? Eos) ReadPostProcessor(JsonElement root, List<AddedToken> added)
        {
            if (IsNull(root, "post_processor")) return (null, null);
            int? bos = null, eos = null;
            Walk(root.GetProperty("post_processor"), "post_processor");
            return (bos, eos);

            void Walk(JsonElement p, string field)
            {
                switch (TypeOf(p))
                {
                    case "ByteLevel":
                        break;   // only adjusts offsets
                    case "Sequence":
                        int i = 0;
                        foreach (var item in p.GetProperty("processors").EnumerateArray()) Walk(item, $"{field}.processors[{i++}]");
                        break;
                    case "TemplateProcessing":
                        if (!p.TryGetProperty("single", out var single) || single.ValueKind != JsonValueKind.Array)
                            throw Fail(field + ".single", "missing or not an array");
                        bool seenA = false;
                        int k = 0;
                        foreach (var piece in single.EnumerateArray())
                        {
                            string pf = $"{field}.single[{k++}]";
                            if (piece.TryGetProperty("Sequence", out var seq))
                            {
                                if (seenA || seq.GetProperty("id").GetString() != "A") throw Fail(pf, "only one sequence A is supported");
                                seenA = true;
                            }
                            else if (piece.TryGetProperty("SpecialToken", out var st))
                            {
                                int id = SpecialId(p, st.GetProperty("id").GetString()!, pf);
                                if (!seenA) { if (bos != null) throw Fail(pf, "more than one token before the sequence is not supported"); bos = id; }
                                else { if (eos != null) throw Fail(pf, "more than one token after the sequence is not supported"); eos = id; }
                            }
                            else throw Fail(pf, "expected Sequence or SpecialToken");
                        }
                        break;
                    default:
                        throw Fail(field + ".type", $"'{TypeOf(p)}' is not supported (expected TemplateProcessing, ByteLevel or Sequence)");
                }
            }

            int SpecialId(JsonElement template, string token, string field)
            {
                if (template.TryGetProperty("special_tokens", out var map) && map.ValueKind == JsonValueKind.Object
                    && map.TryGetProperty(token, out var entry) && entry.TryGetProperty("ids", out var ids) && ids.GetArrayLength() == 1)
                    return ids[0].GetInt32();
                foreach (var t in added) if (t.Content == token) return t.Id;
                throw Fail(field, $"special token '{token}' has no id");
            }
        }
    }

    /// <summary>Writes tokenizer.json (indented, merges as [left, right] pairs).</summary>
    public static void Write(BpeTokenizer tok, Stream stream)
    {
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        w.WriteStartObject();
        w.WriteString("version", "1.0");
        w.WriteNull("truncation");
        w.WriteNull("padding");
        w.WriteStartArray("added_tokens");
        foreach (var t in tok.AddedTokens)
        {
            w.WriteStartObject();
            w.WriteNumber("id", t.Id);
            w.WriteString("content", t.Content);
            w.WriteBoolean("single_word", false);
            w.WriteBoolean("lstrip", false);
            w.WriteBoolean("rstrip", false);
            w.WriteBoolean("normalized", false);
            w.WriteBoolean("special", t.Special);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteNull("normalizer");

        w.WritePropertyName("pre_tokenizer");
        if (tok.PreTokenizer == PreTokenizerKind.Gpt2) WriteByteLevel(w, useRegex: true);
        else
        {
            w.WriteStartObject();
            w.WriteString("type", "Sequence");
            w.WriteStartArray("pretokenizers");
            w.WriteStartObject();
            w.WriteString("type", "Split");
            w.WriteStartObject("pattern");
            w.WriteString("Regex", PreTokenizer.Llama3Pattern);
            w.WriteEndObject();
            w.WriteString("behavior", "Isolated");
            w.WriteBoolean("invert", false);
            w.WriteEndObject();
            WriteByteLevel(w, useRegex: false);
            w.WriteEndArray();
            w.WriteEndObject();
        }

        w.WritePropertyName("post_processor");
        if (tok.BosId == null && tok.EosId == null) w.WriteNullValue();
        else WriteTemplate(w, tok);
        w.WritePropertyName("decoder");
        WriteByteLevel(w, useRegex: true);

        w.WriteStartObject("model");
        w.WriteString("type", "BPE");
        w.WriteNull("dropout");
        w.WriteNull("unk_token");
        w.WriteNull("continuing_subword_prefix");
        w.WriteNull("end_of_word_suffix");
        w.WriteBoolean("fuse_unk", false);
        w.WriteBoolean("byte_fallback", false);
        w.WriteBoolean("ignore_merges", tok.IgnoreMerges);
        w.WriteStartObject("vocab");
        var spelled = new string[tok.ModelVocabSize];
        for (int id = 0; id < tok.ModelVocabSize; id++)
        {
            spelled[id] = ByteLevel.Encode(tok.TokenBytes(id));
            w.WriteNumber(spelled[id], id);
        }
        w.WriteEndObject();
        w.WriteStartArray("merges");
        foreach (var (a, b) in tok.Merges)
        {
            w.WriteStartArray();
            w.WriteStringValue(spelled[a]);
            w.WriteStringValue(spelled[b]);
            w.WriteEndArray();
        }
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteByteLevel(Utf8JsonWriter w, bool useRegex)
    {
        w.WriteStartObject();
        w.WriteString("type", "ByteLevel");
        w.WriteBoolean("add_prefix_space", false);
        w.WriteBoolean("trim_offsets", true);
        w.WriteBoolean("use_regex", useRegex);
        w.WriteEndObject();
    }

    private static void WriteTemplate(Utf8JsonWriter w, BpeTokenizer tok)
    {
        w.WriteStartObject();
        w.WriteString("type", "TemplateProcessing");
        w.WriteStartArray("single");
        Pieces("A", 0);
        w.WriteEndArray();
        w.WriteStartArray("pair");
        Pieces("A", 0);
        Pieces("B", 1);
        w.WriteEndArray();
        w.WriteStartObject("special_tokens");
        foreach (var id in new[] { tok.BosId, tok.EosId }.OfType<int>().Distinct())
        {
            string s = tok.TokenString(id);
            w.WriteStartObject(s);
            w.WriteString("id", s);
            w.WriteStartArray("ids");
            w.WriteNumberValue(id);
            w.WriteEndArray();
            w.WriteStartArray("tokens");
            w.WriteStringValue(s);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndObject();
        w.WriteEndObject();

        void Pieces(string seq, int typeId)
        {
            if (tok.BosId is { } b) Special(b, typeId);
            w.WriteStartObject();
            w.WriteStartObject("Sequence");
            w.WriteString("id", seq);
            w.WriteNumber("type_id", typeId);
            w.WriteEndObject();
            w.WriteEndObject();
            if (tok.EosId is { } e) Special(e, typeId);
        }

        void Special(int id, int typeId)
        {
            w.WriteStartObject();
            w.WriteStartObject("SpecialToken");
            w.WriteString("id", tok.TokenString(id));
            w.WriteNumber("type_id", typeId);
            w.WriteEndObject();
            w.WriteEndObject();
        }
    }
}
