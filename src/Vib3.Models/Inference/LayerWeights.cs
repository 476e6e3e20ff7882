using Vib3.Models.Weights;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Inference;

/// <summary>One layer's tensors, found once by name. Small vectors (norms, biases) are decoded to f32 at open:
/// a few KiB per layer, read on every token. Matrices stay pages, streamed through the store each time.</summary>
internal sealed class LayerWeights
{
    // Ordinary attention (every family but deepseek2).
    public DenseWeight? Q { get; init; }                   // [heads·headDim, dim]
    public DenseWeight? K { get; init; }                   // [kvHeads·headDim, dim]
    public DenseWeight? V { get; init; }                   // [kvHeads·headDim, dim]
    // Multi-head latent attention (deepseek2): N nope, R rope, Dv value dims per head, L kv rank, Lq q rank.
    public DenseWeight? QA { get; init; }                  // [Lq, dim] q down-projection (null: Q is [heads·(N+R), dim])
    public float[]? QANorm { get; init; }                  // [Lq]
    public DenseWeight? QB { get; init; }                  // [heads·(N+R), Lq]
    public DenseWeight? KvA { get; init; }                 // [L+R, dim] latent c, then the shared rope key
    public float[]? KvANorm { get; init; }                 // [L] normalises c only
    public DenseWeight? KB { get; init; }                  // [heads·L, N] per head: q_lat = KB[h] · q_nope[h]
    public DenseWeight? VB { get; init; }                  // [heads·Dv, L] per head: o[h] = VB[h] · o_lat[h]
    public required DenseWeight O { get; init; }           // [dim, heads·headDim] (MLA: [dim, heads·Dv])
    public required float[] AttnNorm { get; init; }        // [dim]
    public required float[] FfnNorm { get; init; }         // [dim]
    public float[]? QBias { get; init; }                   // [heads·headDim]
    public float[]? KBias { get; init; }                   // [kvHeads·headDim]
    public float[]? VBias { get; init; }                   // [kvHeads·headDim]
    public float[]? QNorm { get; init; }                   // [headDim] per head, or [heads·headDim] whole
    public float[]? KNorm { get; init; }                   // [headDim] per head, or [kvHeads·headDim] whole
    // Dense FFN of a leading dense layer (deepseek2), which has no router and no experts.
    public DenseWeight? FfnGate { get; init; }             // [denseHidden, dim]
    public DenseWeight? FfnUp { get; init; }               // [denseHidden, dim]
    public DenseWeight? FfnDown { get; init; }             // [dim, denseHidden]
    // Routed layers.
    public DenseWeight? Router { get; init; }              // [experts, dim]
    public float[]? RouterBias { get; init; }              // [experts] added to the scores for selection only
    public DenseWeight? SharedGate { get; init; }          // [sharedHidden, dim]
    public DenseWeight? SharedUp { get; init; }            // [sharedHidden, dim]
    public DenseWeight? SharedDown { get; init; }          // [dim, sharedHidden]
    public float[]? SharedRouter { get; init; }            // [dim]: sigmoid(w·x) gates the shared expert (null: ungated)
    public ExpertGridEntry? Experts { get; init; }         // routed experts as neuron-bundle pages (null: a dense layer)

    /// <summary>The matrices the pass only multiplies whole (every product through its projections), in the order the
    /// VRAM tier places them: attention first, then the router, then the dense and shared FFNs. Not MLA's per-head k_b and
    /// v_b, multiplied head by head.</summary>
    public IEnumerable<DenseWeight> WholeProducts() =>
        new[] { Q, K, V, QA, QB, KvA, O, Router, FfnGate, FfnUp, FfnDown, SharedGate, SharedUp, SharedDown }.OfType<DenseWeight>();

    /// <summary>Finds layer <paramref name="l"/>'s tensors by their <see cref="LayerSchema"/> names. Every tensor the
    /// manifest has in the layer must be one of them: a schema tensor the pass did not read would be silently
    /// ignored.</summary>
    public static async ValueTask<LayerWeights> LoadAsync(ModelWeights w, int l, CancellationToken ct)
    {
        var read = new HashSet<string>(StringComparer.Ordinal);
        DenseWeight? Find(string name)
        {
            read.Add(name);
            return w.TryTensor(LayerSchema.Layered(l, name));
        }
        async ValueTask<float[]?> Vector(string name) =>
            Find(name) is { } t ? await ReadF32Async(w, t, ct).ConfigureAwait(false) : null;

        var layer = new LayerWeights
        {
            Q = Find("attn_q"),
            K = Find("attn_k"),
            V = Find("attn_v"),
            QA = Find("attn_q_a"),
            QANorm = await Vector("attn_q_a_norm").ConfigureAwait(false),
            QB = Find("attn_q_b"),
            KvA = Find("attn_kv_a_mqa"),
            KvANorm = await Vector("attn_kv_a_norm").ConfigureAwait(false),
            KB = Find("attn_k_b"),
            VB = Find("attn_v_b"),
            O = Find("attn_output")!,
            AttnNorm = (await Vector("attn_norm").ConfigureAwait(false))!,
            FfnNorm = (await Vector("ffn_norm").ConfigureAwait(false))!,
            QBias = await Vector("attn_q_bias").ConfigureAwait(false),
            KBias = await Vector("attn_k_bias").ConfigureAwait(false),
            VBias = await Vector("attn_v_bias").ConfigureAwait(false),
            QNorm = await Vector("attn_q_norm").ConfigureAwait(false),
            KNorm = await Vector("attn_k_norm").ConfigureAwait(false),
            FfnGate = Find("ffn_gate"),
            FfnUp = Find("ffn_up"),
            FfnDown = Find("ffn_down"),
            Router = Find("ffn_gate_inp"),
            RouterBias = await Vector("exp_probs_b").ConfigureAwait(false),
            SharedGate = Find("ffn_gate_shexp"),
            SharedUp = Find("ffn_up_shexp"),
            SharedDown = Find("ffn_down_shexp"),
            SharedRouter = await Vector("ffn_gate_inp_shexp").ConfigureAwait(false),
            Experts = w.ExpertGrids.GetValueOrDefault(l),
        };
        var prefix = LayerSchema.Layered(l, "");
        foreach (var t in w.Manifest.Tensors)
            if (t.Name.StartsWith(prefix, StringComparison.Ordinal) && !read.Contains(t.Name[prefix.Length..]))
                throw new InvalidOperationException($"layer {l}'s tensor {t.Name} is in the layer schema but the forward pass does not read it");
        return layer;
    }

    public static async ValueTask<float[]> ReadF32Async(ModelWeights w, DenseWeight t, CancellationToken ct)
    {
        var all = new float[t.Rows * t.Cols];
        await w.StreamAsync(t, (i, page) => t.ToF32Page(i, page, all), ct).ConfigureAwait(false);
        return all;
    }
}
