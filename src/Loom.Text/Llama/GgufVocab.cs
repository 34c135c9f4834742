namespace Loom.Text;

/// <summary>GGUF token types (<c>tokenizer.ggml.token_type</c>), as llama.cpp numbers them.</summary>
public enum GgufTokenType
{
    /// <summary>Type 0: not set.</summary>
    Undefined = 0,
    /// <summary>An ordinary vocabulary piece.</summary>
    Normal = 1,
    /// <summary>The unknown token.</summary>
    Unknown = 2,
    /// <summary>A control (special) token such as BOS or <c>&lt;|eot_id|&gt;</c>.</summary>
    Control = 3,
    /// <summary>An added token matched verbatim in text but decoded as text.</summary>
    UserDefined = 4,
    /// <summary>A placeholder that never appears.</summary>
    Unused = 5,
    /// <summary>A byte-fallback token <c>&lt;0xNN&gt;</c>.</summary>
    Byte = 6,
}

/// <summary>
/// A tokenizer as GGUF files describe it in <c>tokenizer.ggml.*</c>: the model ("gpt2" byte-level BPE or "llama"
/// SentencePiece), the pre-tokenizer name, tokens with scores and types, merges and the special ids.
/// </summary>
/// <remarks>Token strings are stored as the file spells them (GPT-2 byte characters for "gpt2", ▁ for spaces in "llama").</remarks>
public sealed record GgufVocab
{
    /// <summary><c>tokenizer.ggml.model</c>: "gpt2" (byte-level BPE) or "llama" (SentencePiece BPE).</summary>
    public required string Model { get; init; }

    /// <summary><c>tokenizer.ggml.pre</c>: the pre-tokenizer name (default, llama-bpe, qwen2, smollm, deepseek-v3, ...); null when absent.</summary>
    public string? Pre { get; init; }

    /// <summary><c>tokenizer.ggml.tokens</c>, id = index.</summary>
    public required string[] Tokens { get; init; }

    /// <summary><c>tokenizer.ggml.scores</c> (SentencePiece merge priorities); null when absent.</summary>
    public float[]? Scores { get; init; }

    /// <summary><c>tokenizer.ggml.token_type</c> per token; null when absent (all normal).</summary>
    public GgufTokenType[]? TokenTypes { get; init; }

    /// <summary><c>tokenizer.ggml.merges</c> ("left right", rank order); empty for SentencePiece.</summary>
    public string[] Merges { get; init; } = [];

    /// <summary><c>tokenizer.ggml.bos_token_id</c>.</summary>
    public int? BosId { get; init; }

    /// <summary><c>tokenizer.ggml.eos_token_id</c>.</summary>
    public int? EosId { get; init; }

    /// <summary><c>tokenizer.ggml.eot_token_id</c>.</summary>
    public int? EotId { get; init; }

    /// <summary><c>tokenizer.ggml.eom_token_id</c>.</summary>
    public int? EomId { get; init; }

    /// <summary><c>tokenizer.ggml.unknown_token_id</c>.</summary>
    public int? UnkId { get; init; }

    /// <summary><c>tokenizer.ggml.seperator_token_id</c> (sic, as GGUF spells it).</summary>
    public int? SepId { get; init; }

    /// <summary><c>tokenizer.ggml.padding_token_id</c>.</summary>
    public int? PadId { get; init; }

    /// <summary><c>tokenizer.ggml.add_bos_token</c>; null leaves llama.cpp's default for the model.</summary>
    public bool? AddBos { get; init; }

    /// <summary><c>tokenizer.ggml.add_eos_token</c>; null leaves llama.cpp's default for the model.</summary>
    public bool? AddEos { get; init; }

    /// <summary><c>tokenizer.ggml.add_space_prefix</c> (SentencePiece); null leaves the default (true for "llama").</summary>
    public bool? AddSpacePrefix { get; init; }

    /// <summary><c>tokenizer.chat_template</c>, if the tokenizer has one.</summary>
    public string? ChatTemplate { get; init; }

    /// <summary>Number of tokens.</summary>
    public int Count => Tokens.Length;

    /// <summary>The type of token <paramref name="id"/> (normal when the file gives no types).</summary>
    public GgufTokenType TypeOf(int id) => TokenTypes?[id] ?? GgufTokenType.Normal;
}
