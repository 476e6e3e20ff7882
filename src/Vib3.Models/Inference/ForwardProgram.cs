using Vib3.Core;
using Vib3.Models.Architectures;
using Vib3.Models.Retrieval;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Inference;

/// <summary>How an operator runs where its kind has more than one way.</summary>
public enum OperatorVariant
{
    None,
    /// <summary>Attention: q/k/v projections, multi-head or grouped-query over a cache of keys and values.</summary>
    Mha,
    /// <summary>Attention: multi-head latent attention over a cache of compressed latents (deepseek2).</summary>
    Latent,
    /// <summary>Router: softmax, top-k, optionally renormalised.</summary>
    Softmax,
    /// <summary>Router: sigmoid or softmax scores, a selection-only bias, expert groups, scaled weights (deepseek2).</summary>
    Grouped,
    /// <summary>Experts: every bundle page of each row's top-k experts.</summary>
    Routed,
    /// <summary>Experts: the k bundle pages the page index retrieves per row.</summary>
    Retrieved,
    /// <summary>Experts: of the router's top-k experts, the bundle pages their neuron keys predict matter (router-first).</summary>
    Inside,
}

/// <summary>One operator of the forward program: what it is, which layer, the weights it reads (tensors of
/// <see cref="LayerSchema"/>, or the layer's expert grid) and what one row costs it. <paramref name="Id"/> is its
/// position in <see cref="ForwardProgram.Operators"/>, by which EXPLAIN ANALYZE's figures find it.
/// <paramref name="EndsLayer"/>: the layer's FFN half is summed into the residual stream after it.</summary>
/// <param name="PagesPerRow">Pages a row reads in a step of its own (a page is read once per step, however many rows
/// of the step use it).</param>
public sealed record PhysicalOperator(int Id, OperatorKind Kind, int Layer, OperatorVariant Variant, IReadOnlyList<TensorEntry> Tensors,
    ExpertGridEntry? Grid, int PagesPerRow, long BytesPerRow, long FlopsPerRow, bool EndsLayer = false);

/// <summary>The forward pass as a program: the physical operators a step of rows runs, in order — Embed; per layer
/// Attention, Prediction (the next routed layer's experts start loading), FfnNorm, then Router, Experts and
/// SharedExpert or DenseFfn; FinalNorm, LmHead; Sample. Built from the one <see cref="LayerSchema"/> by
/// <see cref="Build"/>: the planner builds the statement's (EXPLAIN prints it), the executor
/// (<see cref="ForwardPass"/>) runs it, and EXPLAIN ANALYZE measures each of its operators. Programs of one model
/// differ only in how Experts picks pages (<see cref="Retrieval"/>), so a step may hold rows of several.</summary>
public sealed class ForwardProgram
{
    private ForwardProgram(ModelManifest manifest, IReadOnlyList<PhysicalOperator> operators, RetrievalRouting? retrieval, PageOracle? oracle)
    {
        Manifest = manifest;
        Operators = operators;
        Retrieval = retrieval;
        Oracle = oracle;
    }

    public ModelManifest Manifest { get; }

    /// <summary>In the order they run; an operator's <see cref="PhysicalOperator.Id"/> is its index here.</summary>
    public IReadOnlyList<PhysicalOperator> Operators { get; }

    /// <summary>How Experts picks a row's pages: null for the router's top-k, else from the page index.</summary>
    public RetrievalRouting? Retrieval { get; }

    /// <summary>With the router's experts, the page oracle's measurement (<see cref="PageOracle"/>); null for none.</summary>
    public PageOracle? Oracle { get; }

    /// <summary>Pages, bytes and multiply-adds a token costs when it runs alone.</summary>
    public (int Pages, long Bytes, long ExpertBytes, long Flops) PerToken =>
        (Operators.Sum(o => o.PagesPerRow), Operators.Sum(o => o.BytesPerRow),
         Operators.Where(o => o.Kind == OperatorKind.Experts).Sum(o => o.BytesPerRow), Operators.Sum(o => o.FlopsPerRow));

    /// <summary>Why <paramref name="m"/>'s experts cannot be picked by key-only retrieval (k=N by page keys), or null when
    /// they can. It weights each page it finds by the router's softmax probability of its expert; a grouped router
    /// (sigmoid scores, a selection-only bias, expert groups, scaled weights) gives no such probability. Router-first
    /// retrieval takes the router's own experts and weights, so it runs on every router. Decided here only: the
    /// planner refuses a statement with this reason, and <see cref="Build"/> refuses the program to callers without a plan.</summary>
    public static string? RetrievalRefusal(ModelManifest m) => Families.Recipe(m).GroupedRouting
        ? $"USING RETRIEVAL k=N (by page keys) is not supported on model \"{m.Name}\" ({m.Family}): its router (sigmoid scores, selection bias, " +
          "expert groups) has no weights for pages of other experts (use router-first USING RETRIEVAL [mass=M | budget=B], or USING ROUTER)"
        : null;

    /// <summary>The program of <paramref name="m"/>, its experts routed by the router (<paramref name="retrieval"/>
    /// null) or retrieved from the page index; with <paramref name="oracle"/> (router only), the page oracle's
    /// measurement.</summary>
    public static ForwardProgram Build(ModelManifest m, RetrievalRouting? retrieval = null, PageOracle? oracle = null)
    {
        if (retrieval is not null && oracle is not null) throw new ArgumentException("the page oracle keeps pages of the router's experts, not retrieved ones", nameof(oracle));
        if (retrieval is { RouterFirst: false } && RetrievalRefusal(m) is { } refusal) throw new Vib3Exception(SqlState.FeatureNotSupported, refusal);
        var recipe = Families.Recipe(m);
        var h = m.Hyper;
        var tensors = m.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var grids = m.ExpertGrids.ToDictionary(g => g.Layer);
        var ops = new List<PhysicalOperator>();

        // An operator's tensors by the schema; matrices are streamed page by page for every step, vectors (norms,
        // biases) are decoded once at open and cost no reads.
        List<TensorEntry> Read(OperatorKind kind, int layer) =>
            LayerSchema.Of(kind).Select(s => tensors.GetValueOrDefault(s.In(layer))).OfType<TensorEntry>().ToList();
        void Add(OperatorKind kind, int layer, OperatorVariant variant, IReadOnlyList<TensorEntry> read, ExpertGridEntry? grid = null,
            (int Pages, long Bytes, long Flops)? cost = null)
        {
            var matrices = read.Where(t => t.Shape.Length == 2).ToList();
            var (pages, bytes, flops) = cost ?? (matrices.Sum(t => t.PageCount), matrices.Sum(Bytes), matrices.Sum(t => 2 * Parameters(t)));
            ops.Add(new PhysicalOperator(ops.Count, kind, layer, variant, read, grid, pages, bytes, flops));
        }

        // A token reads one row of the embedding, as the page that holds it: the store reads whole pages.
        var embd = tensors[LayerSchema.TokenEmbedding];
        var embdPageRows = Math.Min(embd.RowsPerPage, embd.Shape[0]);
        Add(OperatorKind.Embed, -1, OperatorVariant.None, [embd], cost: (1, Bytes(embd) / embd.Shape[0] * embdPageRows, 0));
        for (var l = 0; l < h.Layers; l++)
        {
            Add(OperatorKind.Attention, l, recipe.LatentAttention ? OperatorVariant.Latent : OperatorVariant.Mha, Read(OperatorKind.Attention, l));
            if (grids.ContainsKey(l + 1)) Add(OperatorKind.Prediction, l, OperatorVariant.None, Read(OperatorKind.Router, l + 1));
            Add(OperatorKind.FfnNorm, l, OperatorVariant.None, Read(OperatorKind.FfnNorm, l));
            if (grids.GetValueOrDefault(l) is not { } grid)
                Add(OperatorKind.DenseFfn, l, OperatorVariant.None, Read(OperatorKind.DenseFfn, l));
            else
            {
                Add(OperatorKind.Router, l, recipe.GroupedRouting ? OperatorVariant.Grouped : OperatorVariant.Softmax, Read(OperatorKind.Router, l));
                Add(OperatorKind.Experts, l, retrieval switch { null => OperatorVariant.Routed, { RouterFirst: true } => OperatorVariant.Inside, _ => OperatorVariant.Retrieved },
                    [], grid, ExpertsCost(h, grid, retrieval));
                if (recipe.SharedExpert)
                    Add(OperatorKind.SharedExpert, l, OperatorVariant.None, Read(OperatorKind.SharedExpert, l));
            }
            ops[^1] = ops[^1] with { EndsLayer = true };
        }
        Add(OperatorKind.FinalNorm, -1, OperatorVariant.None, Read(OperatorKind.FinalNorm, -1));
        Add(OperatorKind.LmHead, -1, OperatorVariant.None, [tensors.GetValueOrDefault(LayerSchema.Output) ?? embd]);
        Add(OperatorKind.Sample, -1, OperatorVariant.None, []);
        return new ForwardProgram(m, ops, retrieval, oracle);
    }

    /// <summary>What the Experts operator reads and computes for a row. Routed: every bundle of the top-k experts;
    /// retrieved: k bundle pages of any experts; inside: the budget's share of the top-k experts' pages (under a mass
    /// target, which decides per token, the share the index's calibration measured, else all of them; at most k), and
    /// the experts' neuron keys (the routing's, or CREATE INDEX's default keys).</summary>
    private static (int Pages, long Bytes, long Flops) ExpertsCost(HyperParameters h, ExpertGridEntry grid, RetrievalRouting? retrieval)
    {
        var flopsPerRow = 2L * 3 * grid.Dim;
        if (retrieval is null)
            return (h.TopK * grid.BundlesPerExpert, h.TopK * grid.BundleBytes(grid.ExpertHidden), h.TopK * flopsPerRow * grid.ExpertHidden);
        if (!retrieval.RouterFirst) return (retrieval.K, retrieval.K * grid.BundleBytes(grid.BundleRows), retrieval.K * flopsPerRow * grid.BundleRows);
        var all = h.TopK * grid.BundlesPerExpert;
        var kept = retrieval.Budget > 0 ? retrieval.Budget
            : retrieval.ExpectedPages is { } expected && expected.TryGetValue(grid.Layer, out var share) ? share : 1;
        var pages = (int)Math.Ceiling(kept * all - 1e-9);
        if (retrieval.K > 0) pages = Math.Min(pages, retrieval.K);
        var (keyType, up) = retrieval.Keys is { } k ? (k.KeyType, k.HasUp) : (NeuronKeySpec.Default.Type, NeuronKeySpec.Default.Up);
        var keys = (long)h.TopK * grid.ExpertHidden * NeuronKeyLayer.NeuronBytes(keyType, up, grid.Dim);
        return (pages, pages * grid.BundleBytes(grid.BundleRows) + keys, pages * flopsPerRow * grid.BundleRows + (long)h.TopK * grid.ExpertHidden * 2 * grid.Dim);
    }

    private static long Parameters(TensorEntry t) => t.Shape.Aggregate(1L, (a, d) => a * d);

    private static long Bytes(TensorEntry t) => DTypes.Parse(t.DType).ByteCount(Parameters(t));
}
