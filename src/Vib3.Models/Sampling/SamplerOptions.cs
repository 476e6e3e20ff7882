namespace Vib3.Models.Sampling;

/// <summary>How the next token is picked from the logits. Defaults are greedy decoding with no filters.</summary>
public sealed class SamplerOptions
{
    /// <summary>Softmax temperature; 0 (or less) is greedy: the arg-max after the repetition penalty.</summary>
    public float Temperature { get; set; }

    /// <summary>Keep only the K most likely tokens; 0 keeps all.</summary>
    public int TopK { get; set; }

    /// <summary>Nucleus: keep the smallest set of most likely tokens whose probability reaches P; 1 keeps all.</summary>
    public float TopP { get; set; } = 1;

    /// <summary>Drop tokens whose probability is below MinP × the most likely token's; 0 keeps all.</summary>
    public float MinP { get; set; }

    /// <summary>llama.cpp-style penalty on tokens seen in the last <see cref="RepetitionWindow"/> tokens:
    /// positive logits are divided by it, negative ones multiplied. 1 is off.</summary>
    public float RepetitionPenalty { get; set; } = 1;

    /// <summary>How many of the most recent tokens the penalty looks at; 0 disables it, negative means the whole history.</summary>
    public int RepetitionWindow { get; set; } = 64;

    /// <summary>OpenAI-style: subtracted once from the logit of every token generated so far (not the prompt's); 0 is off.</summary>
    public float PresencePenalty { get; set; }

    /// <summary>OpenAI-style: subtracted from a token's logit once per time it was generated so far; 0 is off.</summary>
    public float FrequencyPenalty { get; set; }

    /// <summary>Seed of the sampler's own generator; the same seed, options and logits give the same tokens.
    /// Null draws a seed from the OS.</summary>
    public ulong? Seed { get; set; }

    public void Validate()
    {
        if (float.IsNaN(Temperature) || Temperature < 0) throw Invalid($"temperature must be >= 0, got {Temperature}");
        if (TopK < 0) throw Invalid($"top_k must be >= 0, got {TopK}");
        if (!(TopP > 0 && TopP <= 1)) throw Invalid($"top_p must be in (0, 1], got {TopP}");
        if (!(MinP >= 0 && MinP <= 1)) throw Invalid($"min_p must be in [0, 1], got {MinP}");
        if (!(RepetitionPenalty > 0)) throw Invalid($"repetition penalty must be > 0, got {RepetitionPenalty}");
        if (!(PresencePenalty >= -2 && PresencePenalty <= 2)) throw Invalid($"presence penalty must be in [-2, 2], got {PresencePenalty}");
        if (!(FrequencyPenalty >= -2 && FrequencyPenalty <= 2)) throw Invalid($"frequency penalty must be in [-2, 2], got {FrequencyPenalty}");
    }

    private static Vib3.Core.Vib3Exception Invalid(string message) => new(Vib3.Core.SqlState.InvalidParameterValue, message);
}
