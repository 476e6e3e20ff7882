using Vib3.Engine;
using Vib3.Engine.Serving;
using Vib3.Models.Tokenization;
using Vib3.Query;
using Vib3.Query.Planning;
using Vib3.Storage.Catalog;

namespace Vib3.ModelReport;

/// <summary>vib3's generation for a prompt of the training run, next to transformers' text.</summary>
internal sealed record SampleComparison(string Prompt, float Temperature, ulong Seed, string Vib3Text, string TransformersText)
{
    public bool Identical => Vib3Text == TransformersText;
}

/// <summary>Replays the training run's prompts through the engine, as GENERATE runs them: BOS + prompt as
/// train_moe.py fed them (given as token ids), the same token budget, stopping at &lt;/s&gt;. Greedy runs should give
/// the same text; sampled ones use vib3's own sampler (a different random stream from torch.multinomial), so they only
/// share the prompt and temperature.</summary>
internal static class SampleGenerations
{
    public static async Task<IReadOnlyList<SampleComparison>> RunAsync(
        ModelCatalog catalog, string model, ITextTokenizer tokenizer, TrainLog log, CancellationToken ct)
    {
        // The whole model is 18 MB: a budget that holds every page keeps the run CPU-bound, not disk-bound.
        await using var engine = new Vib3Engine(new EngineOptions(catalog.DataDir, 256L << 20));
        var result = new List<SampleComparison>();
        foreach (var s in log.Samples)
        {
            var plan = engine.Plan(new GenerateTokens(new ValueList<int>(tokenizer.Encode(s.Prompt, addBos: true)), new GenerateOptions
            {
                Model = new Identifier(model, Quoted: true), MaxTokens = log.MaxNewTokens, Temperature = (decimal)s.Temperature,
                Seed = checked((long)s.Seed),
            }));
            await using var stream = await engine.Generations.StartAsync(plan, ChoiceOptions.Default, ct);
            var text = new System.Text.StringBuilder(s.Prompt);
            await foreach (var e in stream.ReadAllAsync(ct))
                if (e is TextDelta d) text.Append(d.Text);
            result.Add(new SampleComparison(s.Prompt, s.Temperature, s.Seed, text.ToString(), s.Text));
        }
        return result;
    }
}
