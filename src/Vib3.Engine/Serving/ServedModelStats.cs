using Vib3.Models.Weights;
using Vib3.Storage;

namespace Vib3.Engine.Serving;

/// <summary>What an open model has done since it was opened.</summary>
/// <param name="Instance">Which opening of the model these counters belong to: they restart at 0 when it changes.</param>
/// <param name="Tiers">Its page store: RAM hits, disk reads (misses = pages read from disk), bytes, residency.</param>
/// <param name="Steps">Batched forward steps run.</param>
/// <param name="BatchRows">Rows those steps held in total (Rows / Steps = mean batch).</param>
/// <param name="GeneratedTokens">Tokens sampled, end-of-generation tokens not counted.</param>
/// <param name="PromptTokens">Prompt tokens prefilled (a prompt shared by n choices counts once).</param>
/// <param name="Prefetches">Expert pages read ahead for the next layer, and how many of them a read then used.</param>
/// <param name="RoutedChoices">Expert choices the routers made (rows × top-k) in layers whose choice had been predicted.</param>
/// <param name="PredictedChoices">How many of those the one-layer-ahead prediction had named.</param>
/// <param name="ExpertTiersByLayer">Expert-page reads per layer: hits, joined, from disk.</param>
/// <param name="PageWaits">Time the forward pass stalled with no page ready to compute on.</param>
public sealed record ServedModelStats(string Model, long Instance, TierStats Tiers, long Steps, long BatchRows, long GeneratedTokens, long PromptTokens,
    int Running, int Waiting, PrefetchStats Prefetches, long RoutedChoices, long PredictedChoices, IReadOnlyList<LayerTierStats> ExpertTiersByLayer,
    PageWaitStats PageWaits, bool DirectIo, Vib3.Models.Device.VramStats? Vram)
{
    /// <summary>Pages read from disk per generated token (0 before any token).</summary>
    public double PagesReadPerToken => GeneratedTokens == 0 ? 0 : (double)Tiers.Misses / GeneratedTokens;
}
