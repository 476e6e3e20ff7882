using Vib3.Core;
using Vib3.Models.Weights;
using Vib3.Storage;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Inference;

/// <summary>A model opened for one sequence: its weights (through the page store), the forward pass and a KV cache.
/// One caller at a time (a concurrent second forward pass is refused).</summary>
public sealed class InferenceSession : IDisposable
{
    private InferenceSession(ModelWeights weights, ForwardPass forward, KvCache cache)
    {
        Weights = weights;
        Forward = forward;
        Cache = cache;
    }

    public ModelWeights Weights { get; }

    public ForwardPass Forward { get; }

    public KvCache Cache { get; }

    /// <param name="contextLength">KV cache positions; null: the model's context length.</param>
    /// <param name="kvCache">f32 (default) or f16 keys and values.</param>
    /// <param name="observer">Sees the forward pass's hidden states (measurements); null for none.</param>
    /// <param name="interleave">Hold Q4_K/Q5_K/Q6_K matrix pages interleaved in RAM (<see cref="InterleavedPageForm"/>);
    /// false holds them as stored.</param>
    public static async Task<InferenceSession> OpenAsync(
        ModelCatalog catalog, string model, PageStoreOptions options, int? contextLength = null, CancellationToken ct = default,
        KvCacheType kvCache = KvCacheType.F32, IForwardObserver? observer = null, bool interleave = true)
    {
        var weights = ModelWeights.Open(catalog, model, options, interleave);
        try
        {
            var forward = await ForwardPass.CreateAsync(weights, ct, observer).ConfigureAwait(false);
            var h = weights.Manifest.Hyper;
            if (contextLength > h.Context && h.Context > 0)
                throw new Vib3Exception(SqlState.InvalidParameterValue,
                    $"a context of {contextLength} tokens exceeds model '{model}''s context length {h.Context}");
            var cache = KvCache.For(h, contextLength ?? h.Context, kvCache);
            return new InferenceSession(weights, forward, cache);
        }
        catch
        {
            weights.Dispose();
            throw;
        }
    }

    /// <summary>Feeds <paramref name="tokens"/> after what the cache holds (batched prefill); returns the logits of
    /// every position fed, or only of the last.</summary>
    public async Task<float[][]> LogitsAsync(IReadOnlyList<int> tokens, bool allPositions, CancellationToken ct = default) =>
        await Forward.PrefillAsync(tokens, Cache, allPositions, ct).ConfigureAwait(false);

    public void Dispose() => Weights.Dispose();
}
