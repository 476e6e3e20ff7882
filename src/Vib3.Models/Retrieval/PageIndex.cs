using System.Numerics.Tensors;
using Vib3.Core;
using Vib3.Index;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Retrieval;

/// <summary>A model's page index in memory: per MoE layer, the exact scan over its bundle pages' keys (id i = the
/// layer's page grid.FirstPage + i) and, when built, an HNSW graph over the same keys; each search takes whichever
/// <see cref="SearchCost"/> says is cheaper for its k and ef (as EXPLAIN reports). Immutable once built.</summary>
public sealed class PageIndex
{
    private readonly Dictionary<int, (ExactIndex Exact, HnswIndex? Graph)> _layers;

    /// <param name="graphs">Per layer, its HNSW graph over the same keys (absent: exact scan only).</param>
    public PageIndex(IEnumerable<PageKeyLayer> layers, IReadOnlyDictionary<int, ExpertGridEntry> grids, string model,
        IReadOnlyDictionary<int, HnswIndex>? graphs = null)
    {
        _layers = [];
        foreach (var k in layers)
        {
            if (!grids.TryGetValue(k.Layer, out var g) || g.Experts * g.BundlesPerExpert != k.Pages || g.Dim != k.Dims)
                throw new Vib3Exception(SqlState.DataCorrupted,
                    $"model '{model}': the page index of layer {k.Layer} ([{k.Pages}, {k.Dims}]) does not match the model's pages; rebuild it with CREATE INDEX ON MODEL {ModelNames.ForStatement(model)}");
            var metric = MetricOf(k.Metric);
            var graph = graphs?.GetValueOrDefault(k.Layer);
            if (graph is not null && (graph.Count != k.Pages || graph.Dimensions != k.Dims || graph.Metric != metric))
                throw new Vib3Exception(SqlState.DataCorrupted,
                    $"model '{model}': the HNSW graph of layer {k.Layer} ({graph.Count} x {graph.Dimensions}, {graph.Metric}) does not match its keys; rebuild it with CREATE INDEX ON MODEL {ModelNames.ForStatement(model)}");
            _layers[k.Layer] = (new ExactIndex(k.Keys, k.Dims, metric), graph);
            Kind = k.Kind;
            Metric = k.Metric;
        }
        foreach (var layer in grids.Keys)
            if (!_layers.ContainsKey(layer))
                throw new Vib3Exception(SqlState.DataCorrupted,
                    $"model '{model}': the page index has no keys for layer {layer}; rebuild it with CREATE INDEX ON MODEL {ModelNames.ForStatement(model)}");
    }

    public PageKeyKind Kind { get; }

    /// <summary>Per MoE layer, the neuron keys router-first retrieval scores pages with; null when the index has none.</summary>
    public IReadOnlyDictionary<int, NeuronKeyLayer>? Neurons { get; private init; }

    /// <summary>This index with <paramref name="neurons"/> (every MoE layer's, matching the model's experts).</summary>
    public PageIndex WithNeurons(IEnumerable<NeuronKeyLayer> neurons, IReadOnlyDictionary<int, ExpertGridEntry> grids, string model)
    {
        var byLayer = neurons.ToDictionary(n => n.Layer);
        foreach (var g in grids.Values)
            if (!byLayer.TryGetValue(g.Layer, out var n) || n.Experts != g.Experts || n.Hidden != g.ExpertHidden || n.Dim != g.Dim)
                throw new Vib3Exception(SqlState.DataCorrupted,
                    $"model '{model}': the neuron keys of layer {g.Layer} do not match the model's experts; rebuild them with CREATE INDEX ON MODEL {ModelNames.ForStatement(model)}");
        return new PageIndex(this) { Neurons = byLayer };
    }

    private PageIndex(PageIndex other)
    {
        _layers = other._layers;
        Kind = other.Kind;
        Metric = other.Metric;
    }

    public PageKeyMetric Metric { get; }

    public static VectorMetric MetricOf(PageKeyMetric metric) => metric == PageKeyMetric.Cosine ? VectorMetric.Cosine : VectorMetric.InnerProduct;

    /// <summary>Reads the model's index folder: keys and graphs, checksums verified.</summary>
    public static PageIndex Load(string modelDir, IReadOnlyDictionary<int, ExpertGridEntry> grids, string model)
    {
        var keys = PageIndexFolder.Read(modelDir);
        var graphs = new Dictionary<int, HnswIndex>();
        foreach (var k in keys)
            if (PageIndexFolder.GraphPath(modelDir, k.Layer) is { } path)
            {
                using var file = File.OpenRead(path);
                graphs[k.Layer] = HnswIndex.Load(file, path);
            }
        var index = new PageIndex(keys, grids, model, graphs);
        var neurons = PageIndexFolder.ReadNeurons(modelDir);
        return neurons.Count == 0 ? index : index.WithNeurons(neurons, grids, model);
    }

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
        var (exact, graph) = _layers[layer];
        return graph is not null && SearchCost.PreferGraph(exact.Count, routing.K, routing.Ef, graph.M)
            ? graph.Search(query, routing.K, results, routing.Ef)
            : exact.Search(query, routing.K, results);
    }
}
