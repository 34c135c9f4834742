namespace Loom.Text;

/// <summary>What generation, chat and serving need from a tokenizer, whatever its model (byte-level BPE, SentencePiece).</summary>
public interface ITokenizer
{
    /// <summary>Number of token ids.</summary>
    int VocabSize { get; }

    /// <summary>Beginning-of-sequence id, if any.</summary>
    int? BosId { get; }

    /// <summary>End-of-sequence id, if any.</summary>
    int? EosId { get; }

    /// <summary>Whether encoding a prompt with <c>addSpecial</c> prepends BOS (GGUF <c>tokenizer.ggml.add_bos_token</c>).</summary>
    bool AddBos { get; }

    /// <summary>Ids that end generation (EOS, EOT, EOM ...).</summary>
    IReadOnlySet<int> EndOfGeneration { get; }

    /// <summary>Encodes text; <paramref name="addSpecial"/> adds BOS/EOS as the tokenizer says, <paramref name="parseSpecial"/> matches special tokens written in the text.</summary>
    int[] Encode(string text, bool addSpecial = true, bool parseSpecial = true);

    /// <summary>The bytes the ids decode to (special tokens as their text unless <paramref name="skipSpecial"/>).</summary>
    byte[] DecodeBytes(ReadOnlySpan<int> ids, bool skipSpecial = false);

    /// <summary>Whether the id is a special (control) token.</summary>
    bool IsSpecial(int id);

    /// <summary>The vocab spelling of a token.</summary>
    string TokenString(int id);
}
