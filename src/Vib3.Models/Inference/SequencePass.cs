using Vib3.Core;
using Vib3.Models.Weights;
using Vib3.Storage;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Inference;

/// <summary>A forward pass and one sequence's KV cache, driven directly rather than by the engine's batch scheduler:
/// for the tools and tests that need the pass itself (llama.cpp differential logits, the forward benchmark, the model
/// report). One caller at a time (a concurrent second step is refused by the pass).</summary>
public sealed class SequencePass : IDisposable
{
    private SequencePass(ForwardPass forward, KvCache cache)
    {
        Forward = forward;
        Cache = cache;
    }

    public ForwardPass Forward { get; }

    public ModelWeights Weights => Forward.Weights;

    public KvCache Cache { get; }

    /// <param name="contextLength">KV cache positions; null: the model's context length.</param>
    /// <param name="kvCache">f32 (default) or f16 keys and values.</param>
    /// <param name="observer">Sees the forward pass's hidden states (measurements); null for none.</param>
    /// <param name="interleave">Hold Q4_K/Q5_K/Q6_K matrix pages interleaved in RAM; false holds them as stored.</param>
    /// <param name="device">The VRAM tier whose budget the dense matrices fill; null: every product on the CPU.</param>
    public static async Task<SequencePass> OpenAsync(
        ModelCatalog catalog, string model, PageStoreOptions options, int? contextLength = null, CancellationToken ct = default,
        KvCacheType kvCache = KvCacheType.F32, IForwardObserver? observer = null, bool interleave = true, Device.DeviceTier? device = null)
    {
        var forward = await ForwardPass.OpenAsync(catalog, model, options, ct, observer, interleave, device).ConfigureAwait(false);
        var h = forward.Hyper;
        if (contextLength > h.Context && h.Context > 0)
        {
            forward.Dispose();
            throw new Vib3Exception(SqlState.InvalidParameterValue,
                $"a context of {contextLength} tokens exceeds model '{model}''s context length {h.Context}");
        }
        return new SequencePass(forward, KvCache.For(h, contextLength ?? h.Context, kvCache));
    }

    /// <summary>Feeds <paramref name="tokens"/> after what the cache holds (batched prefill); returns the logits of
    /// every position fed, or only of the last.</summary>
    public async Task<float[][]> LogitsAsync(IReadOnlyList<int> tokens, bool allPositions, CancellationToken ct = default) =>
        await Forward.PrefillAsync(tokens, Cache, allPositions, ct).ConfigureAwait(false);

    public void Dispose() => Forward.Dispose();
}
