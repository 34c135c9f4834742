using Loom.Formats;
using Loom.Text;

namespace Loom.Models.Gguf;

/// <summary>
/// Writes a byte-level BPE tokenizer as GGUF <c>tokenizer.ggml.*</c> metadata (model "gpt2"): tokens in byte-level
/// spelling, token types (1 normal, 3 control, 4 user-defined), merges, BOS/EOS ids and add_bos.
/// </summary>
internal static class BpeGgufMetadata
{
    public static void Write(GgufWriter w, BpeTokenizer tok)
    {
        int n = tok.VocabSize;
        var tokens = new string[n];
        var types = new int[n];
        var added = tok.AddedTokens.ToDictionary(a => a.Id);
        for (int i = 0; i < n; i++)
        {
            if (added.TryGetValue(i, out var a)) { tokens[i] = a.Content; types[i] = a.Special ? 3 : 4; }
            else { tokens[i] = ByteLevel.Encode(tok.TokenBytes(i)); types[i] = 1; }
        }
        var merges = tok.Merges.Select(m => tokens[m.Left] + " " + tokens[m.Right]).ToArray();
        w.Add("tokenizer.ggml.model", GgufValue.String("gpt2"));
        w.Add("tokenizer.ggml.pre", GgufValue.String(tok.PreTokenizer == PreTokenizerKind.Llama3 ? "llama-bpe" : "gpt2"));
        w.Add("tokenizer.ggml.tokens", GgufValue.Array(tokens));
        w.Add("tokenizer.ggml.token_type", GgufValue.Array(types));
        w.Add("tokenizer.ggml.merges", GgufValue.Array(merges));
        int? bos = tok.BosId ?? tok.EosId;
        if (bos is int b) w.Add("tokenizer.ggml.bos_token_id", GgufValue.UInt32((uint)b));
        if (tok.EosId is int e) w.Add("tokenizer.ggml.eos_token_id", GgufValue.UInt32((uint)e));
        w.Add("tokenizer.ggml.add_bos_token", GgufValue.Bool(tok.BosId.HasValue));
        w.Add("tokenizer.ggml.add_eos_token", GgufValue.Bool(false));
    }
}
