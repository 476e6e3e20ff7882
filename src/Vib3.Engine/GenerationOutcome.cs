namespace Vib3.Engine;

/// <summary>What a statement's generation came to (GENERATE's row, EXPLAIN ANALYZE's figures): why it ended — "stop"
/// (end-of-generation token or a stop string) or "length" (max tokens or a full context) — its token counts and
/// timings.</summary>
internal sealed class GenerationOutcome
{
    public string FinishReason { get; set; } = "length";
    public int PromptTokens { get; set; }
    /// <summary>Tokens produced, not counting the end-of-generation token that stopped it.</summary>
    public int GeneratedTokens { get; set; }
    /// <summary>From the start (tokenizing) to the first sampled token: prompt processing, i.e. time to first token.</summary>
    public TimeSpan TimeToFirstToken { get; set; }
    /// <summary>From the start to the last token.</summary>
    public TimeSpan Elapsed { get; set; }

    /// <summary>Tokens per second after the first.</summary>
    public double DecodeTokensPerSecond =>
        GeneratedTokens > 1 && Elapsed > TimeToFirstToken ? (GeneratedTokens - 1) / (Elapsed - TimeToFirstToken).TotalSeconds : 0;
}
