namespace Vib3.Engine.Serving;

/// <summary>What a front end may ask beyond the plan itself.</summary>
public sealed record GenerationOptions
{
    public static readonly GenerationOptions Default = new();

    /// <summary>Sequences to sample from the one prompt (OpenAI's n). Choice i uses seed + i when a seed is given.</summary>
    public int Choices { get; init; } = 1;

    /// <summary>Null: no log-probabilities. 0..20: each token's log-probability plus this many alternatives.</summary>
    public int? TopLogprobs { get; init; }
}
