using System.Diagnostics;
using System.Globalization;
using System.Text;
using Vib3.Index;
using Vib3.Models.Inference;
using Vib3.Models.Retrieval;
using Vib3.Storage;
using Vib3.Storage.Catalog;

namespace Vib3.RetrievalStudy;

/// <summary>
/// The page index's benchmark on real page keys: per model, the FFN inputs of a decode of its first window are the
/// queries (L2-normalised, as PageIndex searches); per MoE layer an HNSW graph (M 16, efConstruction 200) over CREATE
/// INDEX's default keys (mean_gate, inner product); for an ef sweep, recall of the exact top-k (a result counts when its
/// score reaches the k-th exact score), queries/s and distance computations per query, against the brute-force scan's
/// queries/s on the same queries. One search thread; each figure is the best of 5 timed passes over all queries.
/// </summary>
internal static class KeyIndexBench
{
    public static async Task<string> RunAsync(StudyModel model, int k, int[] efs, CancellationToken ct)
    {
        var recorder = new FfnInputRecorder(normalize: true); // queries as the page index searches with them
        using var pass = await SequencePass.OpenAsync(model.Catalog, model.Name,
            new PageStoreOptions { RamBudgetBytes = 512L << 20 }, contextLength: null, ct, observer: recorder);
        var w = pass.Weights;
        foreach (var t in model.Stream(pass)[..model.Window]) await pass.Forward.DecodeAsync(t, pass.Cache, ct);
        var queries = recorder.Inputs; // per layer: [tokens][dim]
        var keys = await PageKeys.BuildAsync(w, PageKeyKind.MeanGate, PageKeyMetric.InnerProduct, ct: ct);

        var layers = keys.Select(l => (Keys: l, Exact: new ExactIndex(l.Keys, l.Dims, VectorMetric.InnerProduct),
            Graph: new HnswIndex(l.Keys, l.Dims, VectorMetric.InnerProduct, new HnswOptions()), Queries: queries[l.Layer])).ToArray();
        var count = layers.Sum(l => l.Queries.Count);
        var results = new Neighbor[Math.Max(k, efs.Max())];
        var truth = layers.Select(l => l.Queries.Select(q =>
        {
            var top = new Neighbor[k];
            l.Exact.Search(q, k, top);
            return top[k - 1].Score;
        }).ToArray()).ToArray();
        var scanRate = Rate(count, () =>
        {
            foreach (var l in layers) foreach (var q in l.Queries) l.Exact.Search(q, k, results);
        });

        var s = new StringBuilder();
        s.Append(CultureInfo.InvariantCulture,
            $"### {model.Title}: {layers.Length} layers of {keys[0].Pages} page keys [{keys[0].Pages} x {keys[0].Dims}], {count} queries, k {k}\n\n");
        s.Append(CultureInfo.InvariantCulture, $"Brute-force scan: {scanRate:0} queries/s, {keys[0].Pages} distance computations per query.\n\n");
        s.Append("| ef | recall@k | queries/s | vs scan | distance computations / query |\n|---:|---:|---:|---:|---:|\n");
        foreach (var ef in efs)
        {
            double hits = 0, distances = 0;
            for (var i = 0; i < layers.Length; i++)
                for (var j = 0; j < layers[i].Queries.Count; j++)
                {
                    var n = layers[i].Graph.Search(layers[i].Queries[j], k, results, ef, out var computed);
                    for (var r = 0; r < n; r++) if (results[r].Score >= truth[i][j]) hits++;
                    distances += computed;
                }
            var rate = Rate(count, () =>
            {
                foreach (var l in layers) foreach (var q in l.Queries) l.Graph.Search(q, k, results, ef);
            });
            s.Append(CultureInfo.InvariantCulture,
                $"| {ef} | {hits / ((double)count * k):0.000} | {rate:0} | {rate / scanRate:0.00}x | {distances / count:0} |\n");
        }
        return s.ToString();
    }

    /// <summary>Queries per second of <paramref name="pass"/> (which runs <paramref name="queries"/> searches): best of 5,
    /// after half a second of warm-up (tiered JIT only optimises a method after it has run a while: one warm-up pass left
    /// the first rows measured on unoptimised code).</summary>
    private static double Rate(int queries, Action pass)
    {
        for (var warm = Stopwatch.StartNew(); warm.Elapsed.TotalSeconds < 0.5;) pass();
        var best = double.MaxValue;
        for (var i = 0; i < 5; i++)
        {
            var clock = Stopwatch.StartNew();
            pass();
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        return queries / best;
    }
}
