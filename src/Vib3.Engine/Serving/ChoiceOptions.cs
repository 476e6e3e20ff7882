namespace Vib3.Engine.Serving;

/// <summary>What a front end may ask beyond the plan itself: how many choices to sample from the one prompt, their
/// log-probabilities, and the figures of each operator (EXPLAIN ANALYZE).</summary>
public sealed record ChoiceOptions
{
    public static readonly ChoiceOptions Default = new();

    /// <summary>Sequences to sample from the one prompt (OpenAI's n). Choice i uses seed + i when a seed is given.</summary>
    public int Choices { get; init; } = 1;

    /// <summary>Null: no log-probabilities. 0..20: each token's log-probability plus this many alternatives.</summary>
    public int? TopLogprobs { get; init; }

    /// <summary>Measure each operator of the program for this statement (<see cref="GenerationStream.Actuals"/>).</summary>
    public bool Analyze { get; init; }
}
