using Loom.Formats;
using Loom.Text;

namespace Loom.Models.Gguf;

/// <summary>Builds the tokenizer a GGUF file describes in its <c>tokenizer.ggml.*</c> metadata.</summary>
public static class GgufTokenizer
{
    /// <summary>The file's tokenizer; a <see cref="ModelFileException"/> names the field when it is missing or unsupported.</summary>
    public static ITokenizer Load(GgufFile file)
    {
        string model = file.Get("tokenizer.ggml.model")?.AsString() ?? throw new ModelFileException(file.Path, "metadata has no tokenizer.ggml.model");
        if (model != "gpt2") throw new ModelFileException(file.Path, $"tokenizer.ggml.model '{model}' is not supported yet");
        string pre = file.Get("tokenizer.ggml.pre")?.AsString() ?? "default";
        var tokens = file.Get("tokenizer.ggml.tokens")?.AsArray<string>() ?? throw new ModelFileException(file.Path, "metadata has no tokenizer.ggml.tokens");
        var merges = file.Get("tokenizer.ggml.merges")?.AsArray<string>() ?? [];
        var types = file.Get("tokenizer.ggml.token_type")?.AsArray<int>();
        var vocab = new List<byte[]>();
        var added = new List<AddedToken>();
        var ids = new Dictionary<string, int>(tokens.Length);
        for (int i = 0; i < tokens.Length; i++)
        {
            ids.TryAdd(tokens[i], i);
            int type = types?[i] ?? 1;
            if (type == 3 || type == 4) { added.Add(new AddedToken(i, tokens[i], type == 3)); vocab.Add([]); continue; }
            vocab.Add(ByteLevel.TryDecode(tokens[i]) ?? throw new ModelFileException(file.Path, $"tokenizer.ggml.tokens[{i}] is not a byte-level BPE token"));
        }
        var pairs = new List<(int, int)>(merges.Length);
        for (int r = 0; r < merges.Length; r++)
        {
            int sp = merges[r].IndexOf(' ');
            if (sp < 0 || !ids.TryGetValue(merges[r][..sp], out int a) || !ids.TryGetValue(merges[r][(sp + 1)..], out int b))
                throw new ModelFileException(file.Path, $"tokenizer.ggml.merges[{r}] '{merges[r]}' does not name two tokens");
            pairs.Add((a, b));
        }
        var kind = pre switch { "llama3" or "llama-bpe" or "smaug-bpe" => PreTokenizerKind.Llama3, _ => PreTokenizerKind.Gpt2 };
        int? bos = (int?)file.Get("tokenizer.ggml.bos_token_id")?.AsInt64();
        int? eos = (int?)file.Get("tokenizer.ggml.eos_token_id")?.AsInt64();
        return new BpeTokenizer(vocab, pairs, added, kind, ignoreMerges: kind == PreTokenizerKind.Llama3, bosId: bos, eosId: eos);
    }
}
