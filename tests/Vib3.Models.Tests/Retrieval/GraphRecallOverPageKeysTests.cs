using System.Globalization;
using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Index;
using Vib3.Models.Inference;
using Vib3.Models.Retrieval;
using Vib3.Models.Tests.Shipped;
using Vib3.Models.Tokenization;
using Vib3.Storage;
using Vib3.Storage.Catalog;
using Vib3.Tests;

namespace Vib3.Models.Tests.Retrieval;

/// <summary>How well an HNSW graph over a layer's page keys finds what the exact scan finds, for the queries decode
/// really makes (the trained vib3-moe's FFN inputs on documentation prose, L2-normalised as PageIndex does): recall of
/// the exact top-k (a result counts when its score reaches the k-th exact score) and distance computations per query,
/// per ef. The keys are CREATE INDEX's (mean_gate, inner product) and the graph its default (M 16, efConstruction 200).
/// Printed as a table (docs/retrieval.md quotes it); asserted only where a working graph cannot miss.</summary>
public sealed class GraphRecallOverPageKeysTests(ITestOutputHelper output)
{
    private const string Prose =
        "Gets or sets the number of elements that the list can contain before resizing is required. The capacity is " +
        "always greater than or equal to the count; if the count exceeds the capacity while adding elements, the capacity " +
        "is increased by automatically reallocating the internal array before copying the old elements and adding the new.";

    [Fact]
    public async Task A_graph_over_real_page_keys_finds_the_exact_top_k()
    {
        using var dir = new TempDir();
        var catalog = new ModelCatalog(Path.Combine(dir.Path, "data"));
        new ModelConverter(catalog, DescriptorCatalog.LoadDefault()).Convert(new ConversionRequest(ShippedModelFixture.CheckpointDir, "moe", null, 32));
        var recorder = new FfnInputRecorder(normalize: true); // queries as the page index searches with them
        using var pass = await SequencePass.OpenAsync(catalog, "moe", new PageStoreOptions { RamBudgetBytes = 256 << 20 }, observer: recorder);
        var w = pass.Weights;
        var tokenizer = TokenizerLoader.Load(w.TokenizerDir, w.Manifest.Tokenizer);
        foreach (var t in tokenizer.Encode(Prose, tokenizer.AddBosByDefault)) await pass.Forward.DecodeAsync(t, pass.Cache);
        var queries = recorder.Inputs; // per layer: [tokens][dim]
        var keys = await PageKeys.BuildAsync(w, PageKeyKind.MeanGate, PageKeyMetric.InnerProduct);

        output.WriteLine("| k | ef | recall | distance computations / query (a scan: pages) |");
        output.WriteLine("|---|---|---|---|");
        foreach (var k in new[] { 8, 16 })
            foreach (var ef in new[] { 8, 16, 32, 64 })
            {
                double hits = 0, total = 0, distances = 0;
                foreach (var layer in keys)
                {
                    var exact = new ExactIndex(layer.Keys, layer.Dims, VectorMetric.InnerProduct);
                    var graph = new HnswIndex(layer.Keys, layer.Dims, VectorMetric.InnerProduct, new HnswOptions());
                    var truth = new Neighbor[k];
                    var found = new Neighbor[k];
                    foreach (var q in queries[layer.Layer])
                    {
                        exact.Search(q, k, truth);
                        var n = graph.Search(q, k, found, ef, out var computed);
                        hits += found.AsSpan(0, n).ToArray().Count(f => f.Score >= truth[k - 1].Score);
                        total += k;
                        distances += computed;
                    }
                }
                var queriesCount = keys.Sum(l => queries[l.Layer].Count);
                var recall = hits / total;
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {k} | {ef} | {recall:0.000} | {distances / queriesCount:0} ({keys[0].Pages}) |"));
                // With ef at least the layer's 64 keys, the search at layer 0 sees every node reachable: a working graph
                // over so few keys finds all of the exact top-k.
                if (ef >= keys[0].Pages) Assert.True(recall >= 0.99, $"k {k}, ef {ef}: recall {recall:0.000}");
            }
    }
}
