using System.CommandLine;
using Vib3.LlamaCpp;
using System.Globalization;
using System.Text.Json;
using Vib3.Core;
using Vib3.QuantReport;

// vib3-quant-report: the perplexity table of docs/quantization.md. The default model is exported to an f32 GGUF,
// llama.cpp's own quantizer makes each level from it, and both engines evaluate the same held-out windows on the same
// file; vib3 also evaluates its own quantisation of the checkpoint where it writes the level. Run from the repository
// root after `python3 tools/train/extract_corpus.py` (the held-out text).
var source = new Option<string>("--source") { Description = "Hugging Face folder of the model", DefaultValueFactory = _ => "catalog/models/vib3-moe" };
var corpus = new Option<string>("--corpus") { Description = "Held-out documents, blank-line separated", DefaultValueFactory = _ => ".train/corpus-valid.txt.gz" };
var window = new Option<int>("--window") { Description = "Evaluation window in tokens", DefaultValueFactory = _ => 256 };
var windows = new Option<int>("--windows") { Description = "Evaluate the first N windows (0: all)", DefaultValueFactory = _ => 0 };
var levels = new Option<string>("--levels")
{
    Description = "Comma-separated levels (default: all)",
    DefaultValueFactory = _ => string.Join(",", QuantLevel.All.Select(l => l.Name)),
};
var threads = new Option<int>("--threads") { Description = "Threads for both engines", DefaultValueFactory = _ => 2 };
var json = new Option<string?>("--json") { Description = "Also write the rows as JSON to this file" };
var root = new RootCommand("Held-out perplexity of a model at every quantisation level, vib3 and llama.cpp on the same GGUF")
{
    source, corpus, window, windows, levels, threads, json,
};
root.SetAction(async (r, ct) =>
{
    try
    {
        var options = new QuantReportOptions(r.GetValue(source)!, r.GetValue(corpus)!, r.GetValue(window),
            r.GetValue(windows) is var n and > 0 ? n : int.MaxValue,
            [.. r.GetValue(levels)!.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(QuantLevel.Parse)], r.GetValue(threads));
        var rows = await QuantReport.RunAsync(options, ct);
        if (r.GetValue(json) is { } path)
            await File.WriteAllTextAsync(path, JsonSerializer.Serialize(rows, new JsonSerializerOptions { WriteIndented = true }) + "\n", ct);
        return 0;
    }
    catch (Vib3Exception e)
    {
        Console.Error.WriteLine($"error: {e.Message} (SQLSTATE {e.SqlState})");
        return 1;
    }
});
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
return await root.Parse(args).InvokeAsync();
