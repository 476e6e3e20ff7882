using System.Globalization;
using System.Text.Json;
using Vib3.Models.Inference;
using Vib3.Models.Tokenization;
using Vib3.Storage;
using Vib3.Storage.Catalog;

namespace Vib3.ModelReport;

internal sealed record ReportOptions(
    string Source, string? Model, string? DataDir, string Corpus, string TrainLog, int Window, string Output);

/// <summary>Opens (or converts) the model, then: held-out loss over the training script's windows with the
/// routing seen on the way, then the training run's sample prompts; writes expert_usage.csv and vib3_eval.json.</summary>
internal static class Report
{
    public static async Task<int> RunAsync(ReportOptions o, CancellationToken ct)
    {
        var log = TrainLog.Read(o.TrainLog);
        using var model = o.Model is null
            ? ReportModel.Convert(o.Source)
            : ReportModel.Existing(ModelCatalog.ResolveDataDir(o.DataDir), o.Model);
        // The whole model is 18 MB: a budget that holds every page keeps the run CPU-bound, not disk-bound.
        using var pass = await SequencePass.OpenAsync(model.Catalog, model.Name,
            new PageStoreOptions { RamBudgetBytes = 256L << 20 }, contextLength: null, ct);
        var tokenizer = TokenizerLoader.Load(pass.Weights.TokenizerDir, pass.Weights.Manifest.Tokenizer);

        var text = HeldOutText.Load(o.Corpus, tokenizer);
        Console.Error.WriteLine($"held-out: {text.Documents} documents, {text.Stream.Length} tokens; evaluating {o.Window}-token windows");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var heldOut = await HeldOutEvaluation.RunAsync(pass, text, o.Window, ct);
        var evalSeconds = clock.Elapsed.TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"held-out loss   vib3 {heldOut.Loss:0.00000}  transformers {log.Loss:0.00000}  (difference {heldOut.Loss - log.Loss:+0.0E+0;-0.0E+0})"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"perplexity      vib3 {heldOut.Perplexity:0.0000}   transformers {log.Perplexity:0.0000}   (ratio {heldOut.Perplexity / log.Perplexity:0.00000}); " +
            $"{heldOut.Tokens} tokens in {heldOut.Windows} windows (transformers: {log.Tokens}), {evalSeconds:0.0} s"));
        foreach (var line in ExpertUsage.Summary(heldOut.Routing)) Console.WriteLine(line);

        Directory.CreateDirectory(o.Output);
        ExpertUsage.Write(Path.Combine(o.Output, "expert_usage.csv"), heldOut.Routing, pass.Weights.Manifest.Hyper.TopK);

        var samples = await SampleGenerations.RunAsync(model.Catalog, model.Name, tokenizer, log, ct);
        foreach (var s in samples)
            Console.WriteLine($"T={s.Temperature.ToString(CultureInfo.InvariantCulture)} {(s.Identical ? "same as transformers" : "differs")}: {JsonSerializer.Serialize(s.Vib3Text)}");

        var json = new
        {
            model = pass.Weights.Manifest.Name,
            heldout = new
            {
                documents = text.Documents, stream_tokens = text.Stream.Length, window = o.Window, windows = heldOut.Windows,
                tokens = heldOut.Tokens, vib3_loss = heldOut.Loss, vib3_perplexity = heldOut.Perplexity,
                transformers_loss = log.Loss, transformers_perplexity = log.Perplexity, seconds = Math.Round(evalSeconds, 1),
            },
            samples = samples.Select(s => new
            {
                prompt = s.Prompt, temperature = s.Temperature, seed = s.Seed, identical = s.Identical,
                vib3 = s.Vib3Text, transformers = s.TransformersText,
            }),
        };
        await File.WriteAllTextAsync(Path.Combine(o.Output, "vib3_eval.json"),
            JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true }) + "\n", ct);
        return 0;
    }
}
