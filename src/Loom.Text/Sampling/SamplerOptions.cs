namespace Loom.Text.Sampling;

/// <summary>How the next token is chosen from the logits; the defaults match llama.cpp's common settings.</summary>
public sealed record SamplerOptions
{
    /// <summary>0 means greedy (argmax).</summary>
    public float Temperature { get; init; } = 0.8f;

    /// <summary>Keep the k most likely tokens; 0 disables.</summary>
    public int TopK { get; init; } = 40;

    /// <summary>Keep the smallest set whose probability reaches p; 1 disables.</summary>
    public float TopP { get; init; } = 0.95f;

    /// <summary>Drop tokens whose probability is below min_p times the top one's; 0 disables.</summary>
    public float MinP { get; init; } = 0.05f;

    /// <summary>CTRL-style penalty on tokens already in the window (1 disables): positive logits divided, negative multiplied.</summary>
    public float RepetitionPenalty { get; init; } = 1.0f;

    /// <summary>OpenAI-style penalties: presence subtracts once per seen token, frequency per occurrence.</summary>
    public float PresencePenalty { get; init; }

    public float FrequencyPenalty { get; init; }

    /// <summary>How many recent tokens the penalties look at.</summary>
    public int PenaltyWindow { get; init; } = 64;

    public ulong Seed { get; init; } = 42;

    public void Validate()
    {
        if (!(Temperature >= 0) || float.IsInfinity(Temperature)) throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "temperature must be >= 0");
        if (TopK < 0) throw new ArgumentOutOfRangeException(nameof(TopK), TopK, "top-k must be >= 0");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentOutOfRangeException(nameof(TopP), TopP, "top-p must be in (0, 1]");
        if (!(MinP >= 0 && MinP < 1)) throw new ArgumentOutOfRangeException(nameof(MinP), MinP, "min-p must be in [0, 1)");
        if (!(RepetitionPenalty > 0)) throw new ArgumentOutOfRangeException(nameof(RepetitionPenalty), RepetitionPenalty, "repetition penalty must be > 0");
        if (PenaltyWindow < 0) throw new ArgumentOutOfRangeException(nameof(PenaltyWindow), PenaltyWindow, "penalty window must be >= 0");
    }
}
