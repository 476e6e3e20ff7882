using Vib3.Core;
using Vib3.Index;
using Vib3.Kernels;
using Vib3.Models.Retrieval;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Inference;

/// <summary>Routing by retrieval: per MoE layer a token's FFN input (what the router sees) is scored against the
/// layer's page keys and the k best bundle pages run, from any experts, instead of every bundle of the router's top-k.
/// The router still runs: its softmax gives the weights. Each retrieved page of expert e is weighted by the router's
/// probability of e — a bundle's output is a slice of e's output, so it takes e's gate — and, when the model
/// renormalises its top-k (<see cref="Architectures.BlockRecipe.RenormalizeTopK"/>), those probabilities are
/// renormalised over the distinct experts the retrieved pages touch, the retrieval analogue of "the top-k". Pages are
/// summed in page order so a row's result never depends on read completion order or on the batch it ran in.</summary>
public sealed partial class ForwardPass
{
    private float[]? _query;

    /// <summary>The page index a retrieval row carries (its sequence's, taken when the sequence started). Whether
    /// retrieval suits the model's router was decided when the row's program was built
    /// (<see cref="ForwardProgram.RetrievalRefusal"/>).</summary>
    private PageIndex RequireIndex(StepRow row) => row.Index ?? throw new Vib3Exception(SqlState.FeatureNotSupported,
        $"USING RETRIEVAL needs a page index and model '{_w.Manifest.Name}' has none: run CREATE INDEX ON MODEL {ModelNames.ForStatement(_w.Manifest.Name)} first");

    /// <summary>The retrieved pages of one token in one layer: page ids within the layer in ascending order, each page's
    /// weight, and the distinct experts touched with their weights (for the routing statistics).</summary>
    private (int[] Pages, float[] Weights, int[] Experts, float[] ExpertWeights) Retrieve(
        PageIndex index, ExpertGridEntry grid, ReadOnlySpan<float> xb, ReadOnlySpan<float> probs, RetrievalRouting routing)
    {
        var query = _query ??= new float[_h.Dim];
        var all = grid.Experts * grid.BundlesPerExpert;
        var found = new Neighbor[routing.RouterAware ? all : Math.Min(routing.K, all)];
        var n = index.Search(grid.Layer, xb, routing.RouterAware ? routing with { K = all } : routing, query, found);
        var bundles = grid.BundlesPerExpert;
        if (routing.RouterAware) n = RouterAwareRerank(found.AsSpan(0, n), probs, bundles, routing);
        var pages = found.AsSpan(0, n).ToArray().Select(f => f.Id).Order().ToArray();
        var experts = pages.Select(p => p / bundles).Distinct().ToArray(); // ascending, as pages are
        var expertWeights = new float[experts.Length];
        for (var i = 0; i < experts.Length; i++) expertWeights[i] = probs[experts[i]];
        if (_recipe.RenormalizeTopK)
        {
            var sum = expertWeights.Sum();
            if (sum > 0) VectorOps.Scale(expertWeights, 1f / sum);
        }
        var weights = pages.Select(p => expertWeights[Array.IndexOf(experts, p / bundles)]).ToArray();
        return (pages, weights, experts, expertWeights);
    }

    /// <summary>Router-aware ranking of a layer's scored pages (in place): only the pages of the router's
    /// <see cref="RetrievalRouting.Candidates"/> most probable experts stay (0: all), each scored key score +
    /// Prior · ln p(expert); the best <see cref="RetrievalRouting.K"/> (ties: lower page id) move to the front.</summary>
    private static int RouterAwareRerank(Span<Neighbor> found, ReadOnlySpan<float> probs, int bundles, RetrievalRouting routing)
    {
        var allowed = new bool[probs.Length];
        if (routing.Candidates > 0)
        {
            var byProbability = Enumerable.Range(0, probs.Length).ToArray();
            var p = probs.ToArray();
            Array.Sort(byProbability, (a, b) => p[b].CompareTo(p[a]) is var c && c != 0 ? c : a.CompareTo(b));
            foreach (var e in byProbability.Take(routing.Candidates)) allowed[e] = true;
        }
        else Array.Fill(allowed, true);
        var kept = 0;
        foreach (var f in found)
        {
            var e = f.Id / bundles;
            if (!allowed[e]) continue;
            var prior = routing.Prior > 0 ? routing.Prior * MathF.Log(Math.Max(probs[e], 1e-30f)) : 0f;
            found[kept++] = new Neighbor(f.Id, f.Score + prior);
        }
        var ranked = found[..kept];
        ranked.Sort((a, b) => b.Score.CompareTo(a.Score) is var c && c != 0 ? c : a.Id.CompareTo(b.Id));
        return Math.Min(routing.K, kept);
    }

    /// <summary>Prefetch for a retrieval row: the next layer's index applied to the row's prediction input.</summary>
    private void PrefetchRetrieved(ExpertGridEntry next, ReadOnlySpan<float> x, RetrievalRouting routing, PageIndex index)
    {
        var query = new float[_h.Dim];
        var found = new Neighbor[Math.Min(routing.K, next.Experts * next.BundlesPerExpert)];
        var n = index.Search(next.Layer, x, routing, query, found);
        for (var i = 0; i < n; i++) Prefetch(next.FirstPage + found[i].Id);
    }
}
