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

    public static async ValueTask<LayerWeights> LoadAsync(ModelWeights w, int l, CancellationToken ct)
    {
        async ValueTask<float[]?> Vector(string name) =>
            w.TryTensor($"blk.{l}.{name}") is { } t ? await ReadF32Async(w, t, ct).ConfigureAwait(false) : null;

        return new LayerWeights
        {
            Q = w.TryTensor($"blk.{l}.attn_q"),
            K = w.TryTensor($"blk.{l}.attn_k"),
            V = w.TryTensor($"blk.{l}.attn_v"),
            QA = w.TryTensor($"blk.{l}.attn_q_a"),
            QANorm = await Vector("attn_q_a_norm").ConfigureAwait(false),
            QB = w.TryTensor($"blk.{l}.attn_q_b"),
            KvA = w.TryTensor($"blk.{l}.attn_kv_a_mqa"),
            KvANorm = await Vector("attn_kv_a_norm").ConfigureAwait(false),
            KB = w.TryTensor($"blk.{l}.attn_k_b"),
            VB = w.TryTensor($"blk.{l}.attn_v_b"),
            O = w.Tensor($"blk.{l}.attn_output"),
            AttnNorm = (await Vector("attn_norm").ConfigureAwait(false))!,
            FfnNorm = (await Vector("ffn_norm").ConfigureAwait(false))!,
            QBias = await Vector("attn_q_bias").ConfigureAwait(false),
            KBias = await Vector("attn_k_bias").ConfigureAwait(false),
            VBias = await Vector("attn_v_bias").ConfigureAwait(false),
            QNorm = await Vector("attn_q_norm").ConfigureAwait(false),
            KNorm = await Vector("attn_k_norm").ConfigureAwait(false),
            FfnGate = w.TryTensor($"blk.{l}.ffn_gate"),
            FfnUp = w.TryTensor($"blk.{l}.ffn_up"),
            FfnDown = w.TryTensor($"blk.{l}.ffn_down"),
            Router = w.TryTensor($"blk.{l}.ffn_gate_inp"),
            RouterBias = await Vector("exp_probs_b").ConfigureAwait(false),
            SharedGate = w.TryTensor($"blk.{l}.ffn_gate_shexp"),
            SharedUp = w.TryTensor($"blk.{l}.ffn_up_shexp"),
            SharedDown = w.TryTensor($"blk.{l}.ffn_down_shexp"),
            SharedRouter = await Vector("ffn_gate_inp_shexp").ConfigureAwait(false),
            Experts = w.ExpertGrids.GetValueOrDefault(l),
        };
    }

    public static async ValueTask<float[]> ReadF32Async(ModelWeights w, DenseWeight t, CancellationToken ct)
    {
        var all = new float[t.Rows * t.Cols];
        await w.StreamAsync(t, (i, page) => t.ToF32Page(i, page, all), ct).ConfigureAwait(false);
        return all;
    }
}
