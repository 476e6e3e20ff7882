using Vib3.Storage.Catalog;

namespace Vib3.Query.Planning;

/// <summary>What the planner may know about the world: the catalog, the session's settings and the statement's
/// parameters. Front ends build one per statement.</summary>
/// <param name="FindModel">The manifest of a stored model, or null if there is none of that name.</param>
/// <param name="CurrentModel">The session's model (USE MODEL), if any.</param>
/// <param name="Parameters">Values of $1, $2, ... (extended protocol); null when the statement has none.</param>
public sealed record PlannerContext(
    Func<string, ModelManifest?> FindModel,
    string? CurrentModel,
    long RamBudgetBytes,
    IReadOnlyList<object?>? Parameters = null)
{
    /// <summary>The names of the stored models: a statement that names none, in a session with none chosen, runs on the
    /// only one (null function: no default).</summary>
    public Func<IReadOnlyList<string>>? StoredModels { get; init; }

    /// <summary>A model's page index, one entry per MoE layer; null or empty when it has none. Null function: no index
    /// is known to anyone (USING RETRIEVAL is refused).</summary>
    public Func<string, IReadOnlyList<IndexedLayer>?>? FindIndex { get; init; }

    /// <summary>How the engine-wide RAM budget is used now, for the plan's model (EXPLAIN shows it); null: not known.</summary>
    public Func<string, RamBudgetUse>? RamUse { get; init; }

    /// <summary>The engine's accelerator as it stands for a model; null function or result: the CPU runs everything.</summary>
    public Func<string, DevicePlacement?>? Placement { get; init; }

    /// <summary>Why the CPU runs everything though an accelerator was asked for; null otherwise.</summary>
    public string? AcceleratorNotice { get; init; }

    /// <summary>Default for MAX_TOKENS when the statement does not say (the session's max_tokens setting).</summary>
    public int DefaultMaxTokens { get; init; } = BuiltInMaxTokens;

    /// <summary>Sampling for the clauses a statement leaves out (the session's temperature, top_p, top_k, min_p and
    /// seed settings); a statement's own TEMPERATURE, TOP_P, ... win.</summary>
    public SamplingPlan DefaultSampling { get; init; } = BuiltInSampling;

    /// <summary>MAX_TOKENS when neither the statement nor the session says.</summary>
    public const int BuiltInMaxTokens = 64;

    /// <summary>Greedy decoding: temperature 0, no top-p / top-k / min-p cut, a random seed.</summary>
    public static readonly SamplingPlan BuiltInSampling = new(Temperature: 0, TopP: 1, TopK: 0, MinP: 0, Seed: null);
}
