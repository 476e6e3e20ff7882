using System.Globalization;
using System.Text;
using Vib3.Core;
using Vib3.Models.Inference;
using Vib3.Models.Retrieval;

namespace Vib3.RetrievalStudy;

internal sealed record StudyOptions(
    string Source, string Corpus, int[] PageRows, double[] Ks, int Tokens, int Window, int Gen, int Runs, bool Synthetic,
    bool RouterAware, string Output, bool IndexBench = false, double[]? DiskBudgets = null, bool Oracle = false, string? Calibration = null,
    bool Inside = false);

/// <summary>Runs the sweep on each model and writes one markdown table per model (results.md, or oracle.md for
/// --oracle; also printed) and every figure as CSV (results.csv / oracle.csv, for plot_retrieval.py).</summary>
internal static class Report
{
    public static async Task<int> RunAsync(StudyOptions o, CancellationToken ct)
    {
        if (o.IndexBench) return await IndexBenchAsync(o, ct);
        if (o.DiskBudgets is { Length: > 0 } fractions) return await DiskBenchAsync(o, fractions, ct);
        var results = new List<StudyResult>();
        foreach (var rows in o.PageRows)
        {
            using var model = StudyModel.Trained(o.Source, rows, o.Corpus, o.Window);
            results.Add(await Study.RunAsync(model, (exact, all) => o.Inside ? InsideVariants(controls: true) : o.Oracle ? OracleVariants() : Variants(o, exact, all, topK: 2),
                o.Tokens, o.Gen, o.Runs, ct));
            if (!(o.Oracle || o.Inside) || o.Calibration is null || rows == 1) continue; // a page of one neuron has no layout to choose
            using var coact = StudyModel.Coactivation(o.Source, rows, o.Corpus, o.Calibration, o.Window);
            results.Add(await Study.RunAsync(coact, (_, _) => o.Inside ? InsideVariants(controls: false) : OracleVariants(random: false, pinHot: coact.HotPages > 0),
                o.Tokens, o.Gen, o.Runs, ct));
        }
        if (o.Synthetic)
        {
            using var model = StudyModel.Synthetic(32, 128);
            results.Add(await Study.RunAsync(model, (exact, all) => Variants(o, exact, all, topK: 2), o.Tokens, o.Gen, o.Runs, ct));
        }
        var md = new StringBuilder();
        foreach (var r in results) md.Append(Markdown(r)).Append('\n');
        Console.Write(md);
        Directory.CreateDirectory(o.Output);
        var name = o.Inside ? "router-first" : o.Oracle ? "oracle" : "results"; // the sweeps' tables side by side
        await File.WriteAllTextAsync(Path.Combine(o.Output, name + ".md"), md.ToString(), ct);
        await File.WriteAllTextAsync(Path.Combine(o.Output, name + ".csv"), Csv(results), ct);
        return 0;
    }

    /// <summary>--index-bench: the HNSW graph against the scan on real page keys (index-bench.md): the trained model at
    /// each page_rows, and synthetic models of 8 and 128 experts (the second has 2,048 keys a layer at page_rows 16).</summary>
    private static async Task<int> IndexBenchAsync(StudyOptions o, CancellationToken ct)
    {
        var md = new StringBuilder();
        int[] efs = [8, 16, 32, 64, 128];
        foreach (var rows in o.PageRows)
        {
            using var model = StudyModel.Trained(o.Source, rows, o.Corpus, o.Window);
            md.Append(await KeyIndexBench.RunAsync(model, k: 8, efs, ct)).Append('\n');
        }
        foreach (var (experts, rows) in new[] { (8, 32), (128, 16) })
        {
            using var model = StudyModel.Synthetic(rows, o.Window, experts);
            md.Append(await KeyIndexBench.RunAsync(model, k: 8, efs, ct)).Append('\n');
        }
        Console.Write(md);
        Directory.CreateDirectory(o.Output);
        await File.WriteAllTextAsync(Path.Combine(o.Output, "index-bench.md"), md.ToString(), ct);
        return 0;
    }

    /// <summary>--disk-budget F...: the trained model under RAM budgets of those fractions of its pages (disk.md).</summary>
    private static async Task<int> DiskBenchAsync(StudyOptions o, double[] fractions, CancellationToken ct)
    {
        var md = new StringBuilder();
        foreach (var rows in o.PageRows)
        {
            using var model = StudyModel.Trained(o.Source, rows, o.Corpus, o.Window);
            foreach (var fraction in fractions)
                md.Append(await DiskBench.RunAsync(model, fraction, o.Gen, o.Runs, ct)).Append('\n');
        }
        Console.Write(md);
        Directory.CreateDirectory(o.Output);
        await File.WriteAllTextAsync(Path.Combine(o.Output, "disk.md"), md.ToString(), ct);
        return 0;
    }

    /// <summary>Exact first (the reference), the plain k sweep (k = fractions and multiples of the pages exact routing
    /// reads, up to every page of the layer), then the router-aware variants at ¼, ½, ¾ and 1 × the exact budget.</summary>
    private static List<Variant> Variants(StudyOptions o, int exact, int all, int topK)
    {
        var list = new List<Variant> { new("exact", null) };
        list.AddRange(o.Ks.Select(f => (int)Math.Round(f * exact)).Where(k => k >= 1 && k <= all).Distinct()
            .Select(k => new Variant("key", new RetrievalRouting(k))));
        if (!o.RouterAware) return list;
        foreach (var k in new[] { exact / 4, exact / 2, 3 * exact / 4, exact })
        {
            list.Add(new Variant($"top-{2 * topK} experts", new RetrievalRouting(k, Candidates: 2 * topK)));
            list.Add(new Variant($"top-{topK} experts", new RetrievalRouting(k, Candidates: topK)));
            list.Add(new Variant("key + 0.05 ln p", new RetrievalRouting(k, Prior: 0.05f)));
            list.Add(new Variant("key + ln p", new RetrievalRouting(k, Prior: 1)));
        }
        // Controls: the router's top-1 expert whole (no key involved), and random keys in place of the real ones.
        var bundles = exact / topK;
        list.Add(new Variant("top-1 expert", new RetrievalRouting(bundles, Candidates: 1)));
        list.Add(new Variant("random keys", new RetrievalRouting(exact), RandomKeys: true));
        foreach (var k in new[] { exact / 2, 3 * exact / 4 })
        {
            list.Add(new Variant("random keys, top-2 experts", new RetrievalRouting(k, Candidates: topK), RandomKeys: true));
            list.Add(new Variant("random keys + ln p", new RetrievalRouting(k, Prior: 1), RandomKeys: true));
        }
        return list;
    }

    /// <summary>--oracle: exact, then the page oracle at 70, 50 and 30 % of the router's pages, each beside its random
    /// control (the ceiling of paging inside experts, docs/retrieval.md); on a co-activation layout without the random
    /// control (the same as on the trained order) and, where it has hot pages, also with them pinned.</summary>
    private static List<Variant> OracleVariants(bool random = true, bool pinHot = false)
    {
        var list = new List<Variant> { new("exact", null) };
        foreach (var keep in new[] { 0.7, 0.5, 0.3 })
        {
            list.Add(new Variant("oracle", null, Oracle: new PageOracle(keep)));
            if (pinHot) list.Add(new Variant("oracle, hot pinned", null, Oracle: new PageOracle(keep, PinHot: true)));
            if (random) list.Add(new Variant("random pages", null, Oracle: new PageOracle(keep, Random: true)));
        }
        return list;
    }

    /// <summary>--inside: exact; router-first retrieval with gate and up keys in q4_0 and q3_k (the q3_k ones need a
    /// hidden size that is a multiple of 256) at mass targets and budgets, and with gate keys alone (q8_0, the weight
    /// standing in for the up value) at two; with the controls, random neuron keys, the page oracle and random pages.</summary>
    private static List<Variant> InsideVariants(bool controls)
    {
        var list = new List<Variant> { new("exact", null) };
        NeuronKeySpec gateUpQ4 = new(DType.Q4_0, true), gateUpQ3 = new(DType.Q3_K, true);
        foreach (var keys in new[] { gateUpQ4, gateUpQ3 })
        {
            foreach (var mass in new[] { 0.95, 0.92, 0.9, 0.85 })
                list.Add(new Variant("router-first", new RetrievalRouting(0, Mass: mass), Keys: keys));
            foreach (var budget in new[] { 0.5, 0.4 })
                list.Add(new Variant("router-first", new RetrievalRouting(0, Budget: budget), Keys: keys));
        }
        foreach (var budget in new[] { 0.6, 0.5 })
            list.Add(new Variant("router-first", new RetrievalRouting(0, Budget: budget), Keys: new NeuronKeySpec(DType.Q8_0, false)));
        if (!controls) return list;
        list.Add(new Variant("router-first", new RetrievalRouting(0, Budget: 0.5), RandomKeys: true, Keys: gateUpQ3));
        foreach (var keep in new[] { 0.5, 0.4 })
        {
            list.Add(new Variant("oracle", null, Oracle: new PageOracle(keep)));
            list.Add(new Variant("random pages", null, Oracle: new PageOracle(keep, Random: true)));
        }
        return list;
    }

    private static string Markdown(StudyResult r)
    {
        var s = new StringBuilder();
        s.Append(CultureInfo.InvariantCulture,
            $"### {r.Title}\n\n{r.Tokens} teacher-forced tokens ({r.Windows} windows of {r.Window}); {r.Layers} MoE layers of {r.PagesPerLayer} bundle pages, exact routing reads {r.ExactPages} a layer.\n\n");
        s.Append("| routing | pages/layer | expert KiB/token | top-1 agreement | KL(exact‖retrieval) | perplexity | experts touched/layer | decode tok/s |\n");
        s.Append("|---|---:|---:|---:|---:|---:|---:|---:|\n");
        foreach (var x in r.Rows)
            s.Append(CultureInfo.InvariantCulture,
                $"| {x.Variant.Label} | {x.PagesPerLayer} | {x.ExpertKiBPerToken:0.0} | {x.Agreement:0.000} | {x.Kl:0.0000} | {x.Perplexity:0.00} | {x.ExpertsTouched:0.00} | {(double.IsNaN(x.TokensPerSecond) ? "–" : x.TokensPerSecond.ToString("0", CultureInfo.InvariantCulture))} |\n");
        s.Append("\nGreedy continuations (64 tokens after the first 16 of the first window):\n\n");
        foreach (var x in r.Rows)
            s.Append(CultureInfo.InvariantCulture, $"- {x.Variant.Label}: `{Clip(x.Sample)}`\n");
        return s.ToString();
    }

    private static string Clip(string text)
    {
        // One markdown line: no line breaks, backticks or control characters (a synthetic vocabulary decodes to raw bytes).
        var oneLine = new string(text.ReplaceLineEndings(" ").Replace('`', '\'').Select(c => char.IsControl(c) || char.IsSurrogate(c) ? '·' : c).ToArray());
        return oneLine.Length > 120 ? oneLine[..120] + "…" : oneLine;
    }

    private static string Csv(IEnumerable<StudyResult> results)
    {
        var s = new StringBuilder("model,family,label,k,candidates,prior,pages_per_layer,expert_kib_per_token,agreement,kl,perplexity,experts_touched,decode_tok_s\n");
        foreach (var r in results)
            foreach (var x in r.Rows)
                s.Append(CultureInfo.InvariantCulture,
                    $"\"{r.Title}\",{x.Variant.Family},\"{x.Variant.Label}\",{x.Variant.Routing?.K ?? 0},{x.Variant.Routing?.Candidates ?? 0},{x.Variant.Routing?.Prior ?? 0},{x.PagesPerLayer},{x.ExpertKiBPerToken:0.###},{x.Agreement:0.####},{x.Kl:0.######},{x.Perplexity:0.####},{x.ExpertsTouched:0.###},{x.TokensPerSecond:0.#}\n");
        return s.ToString();
    }
}
