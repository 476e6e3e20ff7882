using System.Globalization;
using Vib3.Models.Inference;
using Vib3.Models.Sampling;
using Vib3.Models.Tokenization;
using Vib3.Storage;
using Vib3.Storage.Catalog;
using Vib3.Storage.Tracing;

namespace Vib3.Bench;

/// <summary>
/// vib3-bench policies --trace FILE [--budget-fraction 0.15,0.3,0.5 | --budget-pages N,...] [--half-life H]: replays a page trace
/// (vib3 bench --trace) through the store's own eviction policies (LRU, LFRU) and Belady's MIN (evict the page read
/// again farthest ahead), and prints their hit rates side by side: over every read from a cold cache, and over the
/// decode reads only (the model's load and the prefill, before the second step, warm the cache uncounted), since
/// decode is where misses cost tokens/s. A budget fraction is of the bytes of the distinct pages the trace reads, and
/// the cache is simulated in bytes as the store's is; --budget-pages N simulates N equal-sized pages instead, where
/// Belady's MIN is the exact optimum (with pages of mixed sizes it is the classic yardstick, not a proven bound).
/// --half-life sets LFRU's count half-life in reads (default: the policy's own), and --tie-width the factor (in doublings)
/// within which its counts tie (default 0.5; 1 is the earlier rule), for tuning it.
/// vib3-bench policies --record FILE ... records a trace of a text prompt instead (see <see cref="Record"/>).
/// </summary>
internal static class PolicyBench
{
    public static int Run(string[] args)
    {
        if (Args.Str(args, "--record", "") is { Length: > 0 } record) return Record(args, record);
        var path = Args.Str(args, "--trace", "");
        if (path.Length == 0)
        {
            Console.Error.WriteLine("vib3-bench policies: --trace FILE is required (record one with: vib3 bench --model M --trace FILE)");
            return 2;
        }
        var trace = PageTrace.Read(path);
        var distinct = trace.Pages.Distinct().ToArray();
        long distinctBytes = distinct.Sum(p => (long)trace.PageBytes[p]);
        int expertReads = trace.Pages.Count(p => trace.Classes[p].Kind == PageKind.Expert);
        long denseBytes = distinct.Where(p => trace.Classes[p].Kind == PageKind.Dense).Sum(p => (long)trace.PageBytes[p]);
        Console.WriteLine($"trace {path}: model {trace.Model}, {trace.Pages.Length} reads in {trace.StepStarts.Length} steps, " +
                          $"{distinct.Length} distinct pages of {trace.Classes.PageCount}, {distinctBytes / 1024.0 / 1024:F1} MiB " +
                          $"({100.0 * denseBytes / distinctBytes:F1} % dense), {expertReads} expert reads");

        var pages = Args.Str(args, "--budget-pages", "");
        var budgets = pages.Length > 0
            ? pages.Split(',').Select(x => long.Parse(x, CultureInfo.InvariantCulture)).ToArray()
            : Args.Str(args, "--budget-fraction", "0.15,0.3,0.5").Split(',')
                .Select(x => (long)(distinctBytes * double.Parse(x, CultureInfo.InvariantCulture))).ToArray();
        var sizes = pages.Length > 0 ? null : trace.PageBytes;
        long whole = sizes is null ? distinct.Length : distinctBytes;

        double? halfLife = Args.Str(args, "--half-life", "") is { Length: > 0 } h ? double.Parse(h, CultureInfo.InvariantCulture) : null;
        var tieWidth = Args.Str(args, "--tie-width", "") is { Length: > 0 } w
            ? double.Parse(w, CultureInfo.InvariantCulture) : LfruEvictionPolicy.DefaultTieWidth;
        IEvictionPolicy Lfru(PageClassMap classes) => new LfruEvictionPolicy(classes, halfLife, tieWidth);
        Table("every read, cold start", trace, budgets, whole, sizes, Lfru, countFrom: 0);
        if (trace.StepStarts.Length > 1)
            Table($"decode reads only ({trace.StepStarts.Length - 1} tokens; load and prefill warm the cache)", trace, budgets,
                whole, sizes, Lfru, countFrom: trace.StepStarts[1]);
        return 0;
    }

    private static void Table(string title, PageTrace trace, long[] budgets, long whole, int[]? sizes,
        Func<PageClassMap, IEvictionPolicy> newLfru, int countFrom)
    {
        Console.WriteLine();
        var of = sizes is null ? "reads" : "read bytes";
        Console.WriteLine($"{title}: hit rate % of {of} / of expert reads; LFRU − LRU in points of {of}");
        Console.WriteLine($"{(sizes is null ? "budget (pages)" : "budget"),-20} {"LRU",-15} {"LFRU",-15} {"Belady",-15} {"LFRU-LRU",8}");
        var (pages, classes) = (trace.Pages, trace.Classes);
        foreach (var budget in budgets)
        {
            var lru = CacheSimulator.Run(pages, budget, CachePolicies.Create(CachePolicy.Lru, classes), classes, countFrom, sizes);
            var lfru = CacheSimulator.Run(pages, budget, newLfru(classes), classes, countFrom, sizes);
            var opt = CacheSimulator.Run(pages, budget, new BeladyEvictionPolicy(pages), classes, countFrom, sizes);
            var size = sizes is null ? budget.ToString(CultureInfo.InvariantCulture) : $"{budget / 1024.0 / 1024:F1} MiB";
            Console.WriteLine($"{$"{size} ({100.0 * budget / whole:F0}%)",-20} {Rates(lru),-15} {Rates(lfru),-15} {Rates(opt),-15} " +
                              $"{100 * (lfru.ByteHitRate - lru.ByteHitRate),8:+0.0;-0.0}");
        }
    }

    /// <summary>vib3-bench policies --record FILE --data-dir D --model M --prompt TEXT [--gen-tokens 256] [--temperature 0.8]
    /// [--seed 1]: a decode trace of a real text prompt, sampled (vib3 bench --trace decodes a synthetic prompt greedily,
    /// which on a trained model soon falls into a loop). A step marker before the prefill and before each decoded token.</summary>
    private static int Record(string[] args, string path)
    {
        var catalog = new ModelCatalog(Args.Str(args, "--data-dir", ""));
        var model = Args.Str(args, "--model", "");
        var gen = int.Parse(Args.Str(args, "--gen-tokens", "256"), CultureInfo.InvariantCulture);
        using var recorder = PageTraceWriter.ForModel(path, catalog, model);
        var options = new PageStoreOptions { RamBudgetBytes = 4L << 30, Trace = recorder };
        using var pass = SequencePass.OpenAsync(catalog, model, options).GetAwaiter().GetResult();
        var tokenizer = TokenizerLoader.Load(pass.Weights.TokenizerDir, pass.Weights.Manifest.Tokenizer);
        var prompt = tokenizer.Encode(Args.Str(args, "--prompt", "The"), tokenizer.AddBosByDefault).ToList();
        var sampler = new Sampler(new SamplerOptions
        {
            Temperature = float.Parse(Args.Str(args, "--temperature", "0.8"), CultureInfo.InvariantCulture),
            Seed = ulong.Parse(Args.Str(args, "--seed", "1"), CultureInfo.InvariantCulture),
        });
        recorder.MarkStep();
        var logits = pass.LogitsAsync(prompt, allPositions: false).GetAwaiter().GetResult()[0];
        var history = new List<int>(prompt);
        for (var i = 0; i < gen && pass.Cache.Length < pass.Cache.Capacity; i++)
        {
            var next = sampler.Next(logits, history, prompt.Count);
            history.Add(next);
            recorder.MarkStep();
            logits = pass.Forward.DecodeAsync(next, pass.Cache).GetAwaiter().GetResult();
        }
        Console.WriteLine($"recorded {path}: {prompt.Count} prompt + {history.Count - prompt.Count} tokens, {recorder.Reads} reads");
        Console.WriteLine(tokenizer.Decode(history.Skip(prompt.Count).ToList()));
        return 0;
    }

    private static string Rates(CacheSimResult r) => $"{100 * r.ByteHitRate:F1} / {100 * r.ExpertHitRate:F1}";
}
