using Vib3.Models.Inference;
using Vib3.Storage.Catalog;

namespace Vib3.Query.Planning;

/// <summary>How experts are chosen for a token.</summary>
/// <param name="TopK">ROUTER and router-first RETRIEVAL: the model's top-k; key-only RETRIEVAL: k bundles from the index.</param>
/// <param name="Ef">RETRIEVAL only: the HNSW search breadth.</param>
/// <param name="Renormalise">The model rescales its top-k weights to sum to 1 (under RETRIEVAL: over the experts the
/// retrieved pages touch).</param>
/// <param name="Fallback">Why the plan routes exactly (ROUTER) though USING RETRIEVAL was asked: the retrieval asked
/// for could not read fewer pages than the router (k=N of at least top-k × bundles per expert; budget=1).</param>
/// <param name="Index">RETRIEVAL only: the page index used (key construction, metric).</param>
/// <param name="GraphM">RETRIEVAL only: per MoE layer with an HNSW graph, its M (layers absent are scanned).</param>
/// <param name="Experts">RETRIEVAL only: retrieve among the pages of the router's most probable E experts only.</param>
/// <param name="Prior">RETRIEVAL only: rank pages by key score + Prior · ln p_router(expert).</param>
/// <param name="Mass">Router-first RETRIEVAL: a row reads its pages best first until they hold this share of its
/// predicted contribution.</param>
/// <param name="Budget">Router-first RETRIEVAL: a row reads this share of its experts' pages, best first.</param>
/// <param name="Cap">Router-first RETRIEVAL's k=: at most this many pages a row.</param>
/// <param name="NeuronKeys">Router-first RETRIEVAL: what the index's neuron keys are.</param>
/// <param name="Default">Router-first RETRIEVAL with no settings: the engine's default mass.</param>
/// <param name="Calibration">Router-first RETRIEVAL under a mass target: the index's calibration (what EXPLAIN expects
/// each layer to read and cost), or null.</param>
/// <param name="Allocated">The default on a calibrated index: each MoE layer's own mass
/// (<see cref="RetrievalCalibration.Allocate"/>) in place of <paramref name="Mass"/>, and the share of pages expected.</param>
public sealed record RoutingPlan(bool Retrieval, int TopK, int? Ef, bool Renormalise, string? Fallback = null, string? Index = null,
    IReadOnlyDictionary<int, int>? GraphM = null, int? Experts = null, decimal? Prior = null, decimal? Mass = null, decimal? Budget = null,
    int? Cap = null, NeuronKeyHeader? NeuronKeys = null, bool Default = false, RetrievalCalibration? Calibration = null,
    IReadOnlyDictionary<int, (double Mass, double Pages)>? Allocated = null)
{
    /// <summary>Per MoE layer, the share of the pages and the truncation error the index's calibration measured at
    /// <see cref="Mass"/>; null without a mass target or a calibration.</summary>
    public IReadOnlyDictionary<int, (double Pages, double Error)>? Expected => Calibration is { } c && Mass is { } mass
        ? c.Layers.ToDictionary(l => l.Layer, l => l.At(Allocated?[l.Layer].Mass ?? (double)mass, c.Masses))
        : null;

    /// <summary>The router picks the experts and neuron keys the pages inside them.</summary>
    public bool RouterFirst => Mass is not null || Budget is not null;

    /// <summary>The router's probabilities re-rank the keys: every page of a layer is scored (an exact scan).</summary>
    public bool RouterAware => Experts is not null || Prior is > 0;
}

/// <summary>Sampling settings after defaults: temperature 0 means greedy.</summary>
/// <param name="PresencePenalty">OpenAI's: subtracted once from the logit of every token already generated.</param>
/// <param name="FrequencyPenalty">OpenAI's: subtracted from a token's logit per time it was already generated.</param>
/// <param name="RepeatPenalty">llama.cpp's: a token seen in the last 64 has its positive logit divided by it, its
/// negative one multiplied; 1 is off.</param>
public sealed record SamplingPlan(double Temperature, double TopP, int TopK, double MinP, long? Seed,
    double PresencePenalty = 0, double FrequencyPenalty = 0, double RepeatPenalty = 1);

/// <summary>The prompt: plain text, chat messages to render with the model's template, or token ids (an API's
/// pre-tokenized prompt, fed as given).</summary>
public sealed record PlanPrompt(string? Text, IReadOnlyList<(string Role, string Content)>? Messages, IReadOnlyList<int>? Tokens = null);

/// <summary>A node of the plan EXPLAIN prints and what it costs per generated token: one of the program's operators
/// (<see cref="Operator"/> is its <see cref="PhysicalOperator.Id"/>), or a layer holding its operators.</summary>
public sealed record PlanOperator(string Name, string Detail, int PagesPerToken, long BytesPerToken, IReadOnlyList<PlanOperator> Children)
{
    public int? Operator { get; init; }

    /// <summary>Under router-first retrieval, the expert bytes exact routing would read a row here (an Experts node's, a
    /// layer's summed), which EXPLAIN ANALYZE sets the bytes read against; 0 elsewhere.</summary>
    public long ExactExpertBytes { get; init; }
}

/// <summary>Per-token estimates: pages and bytes read (dense vs routed experts), multiply-adds, and whether the
/// page cache holds the whole model (then, once warm, every page is a T2 hit; otherwise pages beyond it come from
/// disk). CacheBytes is the page bytes the RAM budget holds: a little less than the budget, each page's buffer
/// also holding its log record header and sector padding.</summary>
public sealed record PlanEstimate(int PagesPerToken, long BytesPerToken, long DenseBytesPerToken, long ExpertBytesPerToken,
    long FlopsPerToken, long ModelBytes, long RamBudgetBytes, long CacheBytes)
{
    public bool FitsInRam => ModelBytes <= CacheBytes;

    /// <summary>How the engine-wide budget, which every open model shares, is used as the plan is made; null when the
    /// planner was not told (a plan made outside an engine).</summary>
    public RamBudgetUse? RamUse { get; init; }
}

/// <summary>The engine-wide RAM budget as a plan sees it: every open model's pages share it, so the planned model can
/// hold up to <see cref="PlanEstimate.CacheBytes"/> only by evicting the others' (whatever leases do not hold).</summary>
/// <param name="OpenModels">Models open in the budget now.</param>
/// <param name="ModelResidentBytes">RAM the planned model's pages take now (0 when it is not open).</param>
/// <param name="OthersResidentBytes">RAM the other open models' pages take now.</param>
public sealed record RamBudgetUse(int OpenModels, long ModelResidentBytes, long OthersResidentBytes);

/// <summary>A GENERATE statement bound to a model: everything the executor needs, decided before it runs — the forward
/// program its rows run, how its tokens are sampled and when it stops — and what EXPLAIN prints (the program's
/// operators as a tree). Nothing in it refers to SQL text.</summary>
public sealed record GenerationPlan(
    string Model,
    ModelManifest Manifest,
    PlanPrompt Prompt,
    RoutingPlan Routing,
    SamplingPlan Sampling,
    int MaxTokens,
    IReadOnlyList<string> Stop,
    bool Stream,
    ForwardProgram Program,
    IReadOnlyList<PlanOperator> Operators,
    PlanEstimate Estimate)
{
    /// <summary>IGNORE_EOS: end-of-generation tokens are never sampled, so every choice runs to MaxTokens.</summary>
    public bool IgnoreEos { get; init; }

    /// <summary>Where the products run, as EXPLAIN's header says it; null when no accelerator was asked for.</summary>
    public string? Placement { get; init; }
}
