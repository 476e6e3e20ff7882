using System.Numerics.Tensors;
using Vib3.Core;
using Vib3.Index;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Retrieval;

/// <summary>A model's page index in memory: per MoE layer, a vector index over its bundle pages' keys (id i = the
/// layer's page grid.FirstPage + i). Immutable once built; searched from the forward pass's thread.</summary>
public sealed class PageIndex
{
    private readonly Dictionary<int, IVectorIndex> _layers;

    public PageIndex(IEnumerable<PageKeyLayer> layers, IReadOnlyDictionary<int, ExpertGridEntry> grids, string model)
    {
        _layers = [];
        foreach (var k in layers)
        {
            if (!grids.TryGetValue(k.Layer, out var g) || g.Experts * g.BundlesPerExpert != k.Pages || g.Dim != k.Dims)
                throw new Vib3Exception(SqlState.DataCorrupted,
                    $"model '{model}': the page index of layer {k.Layer} ([{k.Pages}, {k.Dims}]) does not match the model's pages; rebuild it with CREATE INDEX ON MODEL {model}");
            // Only the exact scan exists today; an HNSW graph beside the keys would be loaded here instead.
            _layers[k.Layer] = new ExactIndex(k.Keys, k.Dims, k.Metric == PageKeyMetric.Cosine ? VectorMetric.Cosine : VectorMetric.InnerProduct);
            Kind = k.Kind;
            Metric = k.Metric;
        }
        foreach (var layer in grids.Keys)
            if (!_layers.ContainsKey(layer))
                throw new Vib3Exception(SqlState.DataCorrupted,
                    $"model '{model}': the page index has no keys for layer {layer}; rebuild it with CREATE INDEX ON MODEL {model}");
    }

    public PageKeyKind Kind { get; }

    public PageKeyMetric Metric { get; }

    /// <summary>Reads the model's index folder (checksums verified).</summary>
    public static PageIndex Load(string modelDir, IReadOnlyDictionary<int, ExpertGridEntry> grids, string model) =>
        new(PageIndexFolder.Read(modelDir), grids, model);

    /// <summary>Loads the index when the model has one; null otherwise.</summary>
    public static PageIndex? TryLoad(string modelDir, IReadOnlyDictionary<int, ExpertGridEntry> grids, string model) =>
        PageIndexFolder.Exists(modelDir) ? Load(modelDir, grids, model) : null;

    /// <summary>The best pages of <paramref name="layer"/> for <paramref name="x"/> [dim] (the FFN-normalised hidden
    /// state), as page ids within the layer (expert · bundlesPerExpert + bundle), best first; returns how many.
    /// The query is L2-normalised first: under inner product that keeps scores comparable across tokens without
    /// changing the ranking.</summary>
    public int Search(int layer, ReadOnlySpan<float> x, RetrievalRouting routing, Span<float> query, Span<Neighbor> results)
    {
        x.CopyTo(query);
        var norm = TensorPrimitives.Norm(query);
        if (norm > 0) TensorPrimitives.Divide(query, norm, query);
        return _layers[layer].Search(query, routing.K, results, routing.Ef);
    }
}
