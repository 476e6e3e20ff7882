using System.Diagnostics;
using System.Globalization;
using System.Text;
using Vib3.Kernels;
using Vib3.Models.Inference;
using Vib3.Models.Retrieval;
using Vib3.Storage;
using Vib3.Storage.Catalog;

namespace Vib3.RetrievalStudy;

/// <summary>
/// Retrieval where it is meant to pay: expert pages coming from disk. Per routing, a fresh pass with a RAM budget of
/// a fraction of the model's page memory (so the store starts cold and cannot hold every expert), the first 16 tokens
/// of the held-out text as prompt, then greedy decode; reported over the decode steps: bytes read from disk per token,
/// decode tok/s and the time compute waited for pages. Median of the runs (each a fresh, cold pass).
/// </summary>
internal static class DiskBench
{
    public static async Task<string> RunAsync(StudyModel model, double budgetFraction, int gen, int runs, CancellationToken ct)
    {
        IReadOnlyList<PageKeyLayer> keys;
        long pageMemory;
        int[] prompt;
        int exact, maxPage;
        using (var roomy = await SequencePass.OpenAsync(model.Catalog, model.Name, new PageStoreOptions { RamBudgetBytes = 512L << 20 }, null, ct))
        {
            var w = roomy.Weights;
            keys = await PageKeys.BuildAsync(w, PageKeyKind.MeanGate, PageKeyMetric.InnerProduct, ct: ct);
            pageMemory = (long)w.Manifest.PageCount * PageStore.PageCharge((int)(w.Manifest.PageBytes / w.Manifest.PageCount));
            prompt = model.Stream(roomy)[..16];
            var grid = w.ExpertGrids.Values.First();
            exact = w.Manifest.Hyper.TopK * grid.BundlesPerExpert;
            maxPage = w.Manifest.MaxPageBytes;
        }
        var budget = Math.Max((long)(pageMemory * budgetFraction), PageStore.RamBudgetFor(16, maxPage)); // room for a layer's pages in flight
        RetrievalRouting?[] routings =
        [
            null, new(exact / 2), new(3 * exact / 4), new(exact / 2, Prior: 1), new(3 * exact / 4, Prior: 1), new(3 * exact / 4, Candidates: 2),
        ];
        var s = new StringBuilder();
        s.Append(CultureInfo.InvariantCulture,
            $"### {model.Title}: RAM budget {budget / 1e6:0.0} MB = {100 * budgetFraction:0} % of its {pageMemory / 1e6:0.0} MB of pages; prompt 16, decode {gen}, median of {runs} cold sessions\n\n");
        s.Append("| routing | expert pages/layer | disk KiB/token | decode tok/s | page wait ms/token |\n|---|---:|---:|---:|---:|\n");
        foreach (var routing in routings)
        {
            var results = new List<(double Disk, double Rate, double Wait)>();
            for (var run = 0; run < runs; run++)
            {
                using var pass = await SequencePass.OpenAsync(model.Catalog, model.Name, new PageStoreOptions { RamBudgetBytes = budget }, null, ct);
                var index = new PageIndex(keys, pass.Weights.ExpertGrids, model.Name);
                float[] logits = [];
                foreach (var token in prompt) logits = await pass.Forward.DecodeAsync(token, pass.Cache, routing, index, ct);
                var before = pass.Weights.Store.Stats;
                var waits = pass.Weights.PageWaits;
                var clock = Stopwatch.StartNew();
                for (var i = 0; i < gen; i++)
                    logits = await pass.Forward.DecodeAsync(VectorOps.ArgMax(logits), pass.Cache, routing, index, ct);
                var seconds = clock.Elapsed.TotalSeconds;
                var waited = pass.Weights.PageWaits - waits;
                results.Add(((pass.Weights.Store.Stats.BytesRead - before.BytesRead) / 1024.0 / gen, gen / seconds, 1000 * waited.Seconds / gen));
            }
            var (disk, rate, wait) = (Median(results.Select(r => r.Disk)), Median(results.Select(r => r.Rate)), Median(results.Select(r => r.Wait)));
            var label = routing is null ? "exact (router top-2)" : routing.Prior > 0 ? $"key + ln p, k={routing.K}"
                : routing.Candidates > 0 ? $"top-{routing.Candidates} experts' pages, k={routing.K}" : $"key, k={routing.K}";
            s.Append(CultureInfo.InvariantCulture, $"| {label} | {routing?.K ?? exact} | {disk:0.0} | {rate:0} | {wait:0.00} |\n");
            Console.Error.WriteLine($"  disk {label}: {disk:0.0} KiB/token, {rate:0} tok/s");
        }
        return s.ToString();
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted[sorted.Length / 2];
    }
}
