using Vib3.Models.Weights;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Inference;

/// <summary>One layer's tensors, found once by name. Small vectors (norms, biases) are decoded to f32 at open:
/// a few KiB per layer, read on every token. Matrices stay pages, streamed through the store each time.</summary>
internal sealed class LayerWeights
{
    public required DenseWeight Q { get; init; }           // [heads·headDim, dim]
    public required DenseWeight K { get; init; }           // [kvHeads·headDim, dim]
    public required DenseWeight V { get; init; }           // [kvHeads·headDim, dim]
    public required DenseWeight O { get; init; }           // [dim, heads·headDim]
    public required DenseWeight Router { get; init; }      // [experts, dim]
    public required float[] AttnNorm { get; init; }        // [dim]
    public required float[] FfnNorm { get; init; }         // [dim]
    public float[]? QBias { get; init; }                   // [heads·headDim]
    public float[]? KBias { get; init; }                   // [kvHeads·headDim]
    public float[]? VBias { get; init; }                   // [kvHeads·headDim]
    public float[]? QNorm { get; init; }                   // [headDim] per head, or [heads·headDim] whole
    public float[]? KNorm { get; init; }                   // [headDim] per head, or [kvHeads·headDim] whole
    public DenseWeight? SharedGate { get; init; }          // [sharedHidden, dim]
    public DenseWeight? SharedUp { get; init; }            // [sharedHidden, dim]
    public DenseWeight? SharedDown { get; init; }          // [dim, sharedHidden]
    public float[]? SharedRouter { get; init; }            // [dim]: sigmoid(w·x) gates the shared expert
    public required ExpertGridEntry Experts { get; init; } // routed experts as neuron-bundle pages

    public static async ValueTask<LayerWeights> LoadAsync(ModelWeights w, int l, CancellationToken ct)
    {
        async ValueTask<float[]?> Vector(string name) =>
            w.TryTensor($"blk.{l}.{name}") is { } t ? await ReadF32Async(w, t, ct).ConfigureAwait(false) : null;

        return new LayerWeights
        {
            Q = w.Tensor($"blk.{l}.attn_q"),
            K = w.Tensor($"blk.{l}.attn_k"),
            V = w.Tensor($"blk.{l}.attn_v"),
            O = w.Tensor($"blk.{l}.attn_output"),
            Router = w.Tensor($"blk.{l}.ffn_gate_inp"),
            AttnNorm = (await Vector("attn_norm").ConfigureAwait(false))!,
            FfnNorm = (await Vector("ffn_norm").ConfigureAwait(false))!,
            QBias = await Vector("attn_q_bias").ConfigureAwait(false),
            KBias = await Vector("attn_k_bias").ConfigureAwait(false),
            VBias = await Vector("attn_v_bias").ConfigureAwait(false),
            QNorm = await Vector("attn_q_norm").ConfigureAwait(false),
            KNorm = await Vector("attn_k_norm").ConfigureAwait(false),
            SharedGate = w.TryTensor($"blk.{l}.ffn_gate_shexp"),
            SharedUp = w.TryTensor($"blk.{l}.ffn_up_shexp"),
            SharedDown = w.TryTensor($"blk.{l}.ffn_down_shexp"),
            SharedRouter = await Vector("ffn_gate_inp_shexp").ConfigureAwait(false),
            Experts = w.ExpertGrids[l],
        };
    }

    public static async ValueTask<float[]> ReadF32Async(ModelWeights w, DenseWeight t, CancellationToken ct)
    {
        var all = new float[t.Rows * t.Cols];
        await w.StreamAsync(t, (i, page) => t.ToF32Page(i, page, all), ct).ConfigureAwait(false);
        return all;
    }
}
