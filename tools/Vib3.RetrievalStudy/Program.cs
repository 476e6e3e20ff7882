using System.CommandLine;
using Vib3.Core;
using Vib3.RetrievalStudy;

// vib3-retrieval-study: the tables of docs/retrieval.md (USING RETRIEVAL k=N against exact routing). Run from the
// repository root; see docs/retrieval.md for the regeneration recipe.
var source = new Option<string>("--source")
{
    Description = "The trained model's Hugging Face folder (converted into a temporary data dir per page_rows)",
    DefaultValueFactory = _ => "catalog/models/vib3-moe",
};
var corpus = new Option<string>("--corpus")
{
    Description = "Held-out documents, blank-line separated (tools/train/extract_corpus.py)",
    DefaultValueFactory = _ => ".train/corpus-valid.txt.gz",
};
var pageRows = new Option<int[]>("--page-rows")
{
    Description = "Rows per bundle page of the trained model's conversions", AllowMultipleArgumentsPerToken = true,
    DefaultValueFactory = _ => [32],
};
var ks = new Option<double[]>("--k")
{
    Description = "Retrieved pages per layer to sweep, as multiples of the pages exact routing reads (page_rows 32: 16)",
    AllowMultipleArgumentsPerToken = true,
    DefaultValueFactory = _ => [0.125, 0.25, 0.5, 0.75, 1, 2, 4],
};
var tokens = new Option<int>("--tokens") { Description = "Teacher-forced tokens per model (whole windows)", DefaultValueFactory = _ => 4096 };
var window = new Option<int>("--window") { Description = "Window in tokens (train_moe.py --seq)", DefaultValueFactory = _ => 256 };
var gen = new Option<int>("--gen") { Description = "Greedy tokens generated for the decode rate", DefaultValueFactory = _ => 64 };
var runs = new Option<int>("--runs") { Description = "Generation runs (median tok/s)", DefaultValueFactory = _ => 3 };
var synthetic = new Option<bool>("--synthetic") { Description = "Also the synthetic Mixtral", DefaultValueFactory = _ => true };
var variants = new Option<bool>("--router-aware") { Description = "Also the router-aware variants", DefaultValueFactory = _ => true };
var indexBench = new Option<bool>("--index-bench")
{
    Description = "Only the HNSW graph against the scan on real page keys, with decode's own queries (index-bench.md)",
};
var diskBudget = new Option<double[]>("--disk-budget")
{
    Description = "Only the trained model under RAM budgets of these fractions of its pages: disk bytes and tok/s per routing (disk.md)",
    AllowMultipleArgumentsPerToken = true,
};
var oracle = new Option<bool>("--oracle")
{
    Description = "Instead of the retrieval sweep: the page oracle's ceiling inside the router's experts (keep 70/50/30 % of their pages by true " +
                  "contribution) beside random-page controls, per --page-rows",
};
var calibration = new Option<string?>("--calibration")
{
    Description = "With --oracle: also each page_rows laid out by co-activation on this text (vib3 convert --page-layout coact; the training split)",
    DefaultValueFactory = _ => ".train/corpus-train.txt.gz",
};
var inside = new Option<bool>("--inside")
{
    Description = "Instead of the retrieval sweep: router-first retrieval (neuron keys inside the router's experts) at several budgets and mass " +
                  "targets, with random-key, random-page and oracle controls, per --page-rows (and each co-activation layout)",
};
var output = new Option<string>("--out") { Description = "Where results.md and results.csv go", DefaultValueFactory = _ => "docs/retrieval" };

var root = new RootCommand("USING RETRIEVAL k=N against exact routing: agreement, KL, perplexity, bytes and decode rate")
{
    source, corpus, pageRows, ks, tokens, window, gen, runs, synthetic, variants, output, indexBench, diskBudget, oracle, calibration, inside,
};
root.SetAction(async (r, ct) =>
{
    try
    {
        return await Report.RunAsync(new StudyOptions(
            r.GetValue(source)!, r.GetValue(corpus)!, r.GetValue(pageRows)!, r.GetValue(ks)!, r.GetValue(tokens), r.GetValue(window),
            r.GetValue(gen), r.GetValue(runs), r.GetValue(synthetic), r.GetValue(variants), r.GetValue(output)!, r.GetValue(indexBench), r.GetValue(diskBudget), r.GetValue(oracle),
            r.GetValue(calibration), r.GetValue(inside)), ct);
    }
    catch (Exception e) when (e is Vib3Exception or IOException or UnauthorizedAccessException)
    {
        Console.Error.WriteLine($"vib3-retrieval-study: error: {e.Message}");
        return 1;
    }
});
return await root.Parse(args).InvokeAsync();
