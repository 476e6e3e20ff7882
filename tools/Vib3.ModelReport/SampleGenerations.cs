using Vib3.Models.Inference;
using Vib3.Models.Sampling;
using Vib3.Models.Tokenization;

namespace Vib3.ModelReport;

/// <summary>vib3's generation for a prompt of the training run, next to transformers' text.</summary>
internal sealed record SampleComparison(string Prompt, float Temperature, ulong Seed, string Vib3Text, string TransformersText)
{
    public bool Identical => Vib3Text == TransformersText;
}

/// <summary>Replays the training run's prompts through vib3's <see cref="TextGenerator"/>: BOS + prompt as
/// train_moe.py fed them, the same token budget, stopping at &lt;/s&gt;. Greedy runs should give the same text;
/// sampled ones use vib3's own sampler (a different random stream from torch.multinomial), so they only share
/// the prompt and temperature.</summary>
internal static class SampleGenerations
{
    public static async Task<IReadOnlyList<SampleComparison>> RunAsync(
        InferenceSession session, ITextTokenizer tokenizer, TrainLog log, CancellationToken ct)
    {
        var generator = new TextGenerator(session, tokenizer);
        var result = new List<SampleComparison>();
        foreach (var s in log.Samples)
        {
            session.Cache.Clear();
            var request = new TextGenerationRequest(s.Prompt, log.MaxNewTokens, new SamplerOptions { Temperature = s.Temperature, Seed = s.Seed }, [], AddBos: true);
            var text = new System.Text.StringBuilder(s.Prompt);
            await foreach (var piece in generator.GenerateAsync(request, new GenerationOutcome(), ct)) text.Append(piece);
            result.Add(new SampleComparison(s.Prompt, s.Temperature, s.Seed, text.ToString(), s.Text));
        }
        return result;
    }
}
