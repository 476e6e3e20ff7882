using System.CommandLine;
using Vib3.Core;
using Vib3.ModelReport;

// vib3-model-report: the figures of docs/report.md, computed by vib3 on the shipped model (issue 7 item 6).
// Run from the repository root; see docs/report.md for the full regeneration recipe.
var source = new Option<string>("--source")
{
    Description = "Hugging Face folder to convert into a temporary data dir (ignored with --model)",
    DefaultValueFactory = _ => "catalog/models/vib3-moe",
};
var model = new Option<string?>("--model") { Description = "Use this already-stored model instead of converting --source" };
var dataDir = new Option<string?>("--data-dir") { Description = "Data dir of --model (default: $VIB3_DATA_DIR, else ~/.vib3)" };
var corpus = new Option<string>("--corpus")
{
    Description = "Held-out documents, blank-line separated (tools/train/extract_corpus.py)",
    DefaultValueFactory = _ => ".train/corpus-valid.txt.gz",
};
var trainLog = new Option<string>("--train-log")
{
    Description = "The training run's log: transformers' held-out figures and samples to compare with",
    DefaultValueFactory = _ => "docs/training/train_log.json",
};
var window = new Option<int>("--window") { Description = "Evaluation window in tokens (train_moe.py --seq)", DefaultValueFactory = _ => 256 };
var output = new Option<string>("--out")
{
    Description = "Where expert_usage.csv and vib3_eval.json go",
    DefaultValueFactory = _ => "docs/training",
};

var root = new RootCommand("Held-out perplexity, expert usage per layer and sample generations of a model, computed by vib3")
{
    source, model, dataDir, corpus, trainLog, window, output,
};
root.SetAction(async (r, ct) =>
{
    try
    {
        return await Report.RunAsync(new ReportOptions(
            r.GetValue(source)!, r.GetValue(model), r.GetValue(dataDir), r.GetValue(corpus)!, r.GetValue(trainLog)!,
            r.GetValue(window), r.GetValue(output)!), ct);
    }
    catch (Exception e) when (e is Vib3Exception or IOException or UnauthorizedAccessException or System.Text.Json.JsonException)
    {
        // A missing model, corpus or log is a usage problem: one line, as `vib3` reports it, not a stack trace.
        Console.Error.WriteLine($"vib3-model-report: error: {e.Message}");
        return 1;
    }
});
return await root.Parse(args).InvokeAsync();
