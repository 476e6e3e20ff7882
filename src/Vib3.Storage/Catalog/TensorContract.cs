namespace Vib3.Storage.Catalog;

/// <summary>Which layers a tensor may appear in.</summary>
internal enum TensorPlace
{
    /// <summary>Once per model, no "blk.N." prefix.</summary>
    Model,
    /// <summary>In every kind of layer.</summary>
    AnyLayer,
    /// <summary>Only in the leading dense layers (a dense FFN).</summary>
    DenseLayer,
    /// <summary>Only in layers that route to experts.</summary>
    MoeLayer,
}

/// <summary>A tensor the forward pass reads, by its name without the "blk.N." prefix: its role and the shapes the
/// hyper-parameters allow it (as stored: a matrix [rows, cols] or a vector [n]).</summary>
internal sealed record TensorRule(string BaseName, string Role, TensorPlace Place, string Formula, Func<HyperParameters, long[][]> Shapes);

/// <summary>The tensors the forward pass reads and the shapes it relies on, which a manifest's tensors are held to
/// (<see cref="ManifestValidator"/>). The family descriptors in catalog/families say how a converter finds these in a
/// checkpoint; this is the reading side's half of that contract and must not trust the manifest, so it is stated
/// here. A tensor the forward pass does not read has no business in a manifest: a new one is added here when the
/// forward pass learns it (conversion tests fail until then, since publishing validates).</summary>
internal static class TensorContract
{
    private static readonly TensorRule[] Rules =
    [
        new("token_embd", "embedding", TensorPlace.Model, "vocab, dim", h => [[h.Vocab, h.Dim]]),
        new("output", "lm_head", TensorPlace.Model, "vocab, dim", h => [[h.Vocab, h.Dim]]),
        new("output_norm", "norm", TensorPlace.Model, "dim", h => [[h.Dim]]),
        new("attn_norm", "norm", TensorPlace.AnyLayer, "dim", h => [[h.Dim]]),
        new("ffn_norm", "norm", TensorPlace.AnyLayer, "dim", h => [[h.Dim]]),
        new("attn_q", "attn_q", TensorPlace.AnyLayer, "heads·headDim, dim", h => [[QWidth(h), h.Dim]]),
        new("attn_k", "attn_k", TensorPlace.AnyLayer, "kvHeads·headDim, dim", h => [[KvWidth(h), h.Dim]]),
        new("attn_v", "attn_v", TensorPlace.AnyLayer, "kvHeads·headDim, dim", h => [[KvWidth(h), h.Dim]]),
        new("attn_output", "attn_output", TensorPlace.AnyLayer, "dim, heads·(vHeadDim if latent, else headDim)",
            h => [[h.Dim, (long)h.Heads * (h.KvLoraRank > 0 ? h.VHeadDim : h.HeadDim)]]),
        // Per head (Qwen3-MoE) or over the whole projection (OLMoE).
        new("attn_q_norm", "norm", TensorPlace.AnyLayer, "headDim or heads·headDim", h => [[h.HeadDim], [QWidth(h)]]),
        new("attn_k_norm", "norm", TensorPlace.AnyLayer, "headDim or kvHeads·headDim", h => [[h.HeadDim], [KvWidth(h)]]),
        new("attn_q_bias", "bias", TensorPlace.AnyLayer, "heads·headDim", h => [[QWidth(h)]]),
        new("attn_k_bias", "bias", TensorPlace.AnyLayer, "kvHeads·headDim", h => [[KvWidth(h)]]),
        new("attn_v_bias", "bias", TensorPlace.AnyLayer, "kvHeads·headDim", h => [[KvWidth(h)]]),
        new("attn_q_a", "attn_q_a", TensorPlace.AnyLayer, "qLoraRank, dim", h => [[h.QLoraRank, h.Dim]]),
        new("attn_q_a_norm", "norm", TensorPlace.AnyLayer, "qLoraRank", h => [[h.QLoraRank]]),
        new("attn_q_b", "attn_q_b", TensorPlace.AnyLayer, "heads·headDim, qLoraRank", h => [[QWidth(h), h.QLoraRank]]),
        new("attn_kv_a_mqa", "attn_kv_a_mqa", TensorPlace.AnyLayer, "kvLoraRank+qkRopeHeadDim, dim",
            h => [[(long)h.KvLoraRank + h.QkRopeHeadDim, h.Dim]]),
        new("attn_kv_a_norm", "norm", TensorPlace.AnyLayer, "kvLoraRank", h => [[h.KvLoraRank]]),
        new("attn_k_b", "attn_k_b", TensorPlace.AnyLayer, "heads·kvLoraRank, qkNopeHeadDim",
            h => [[(long)h.Heads * h.KvLoraRank, h.QkNopeHeadDim]]),
        new("attn_v_b", "attn_v_b", TensorPlace.AnyLayer, "heads·vHeadDim, kvLoraRank", h => [[(long)h.Heads * h.VHeadDim, h.KvLoraRank]]),
        new("ffn_gate", "ffn_gate", TensorPlace.DenseLayer, "denseHidden, dim", h => [[h.DenseHidden, h.Dim]]),
        new("ffn_up", "ffn_up", TensorPlace.DenseLayer, "denseHidden, dim", h => [[h.DenseHidden, h.Dim]]),
        new("ffn_down", "ffn_down", TensorPlace.DenseLayer, "dim, denseHidden", h => [[h.Dim, h.DenseHidden]]),
        new("ffn_gate_inp", "router", TensorPlace.MoeLayer, "experts, dim", h => [[h.Experts, h.Dim]]),
        new("exp_probs_b", "router_bias", TensorPlace.MoeLayer, "experts", h => [[h.Experts]]),
        new("ffn_gate_shexp", "shared_gate", TensorPlace.MoeLayer, "sharedExpertHidden, dim", h => [[h.SharedExpertHidden, h.Dim]]),
        new("ffn_up_shexp", "shared_up", TensorPlace.MoeLayer, "sharedExpertHidden, dim", h => [[h.SharedExpertHidden, h.Dim]]),
        new("ffn_down_shexp", "shared_down", TensorPlace.MoeLayer, "dim, sharedExpertHidden", h => [[h.Dim, h.SharedExpertHidden]]),
        new("ffn_gate_inp_shexp", "shared_router", TensorPlace.MoeLayer, "dim", h => [[h.Dim]]),
    ];

    private static readonly Dictionary<string, TensorRule> ByName = Rules.ToDictionary(r => r.BaseName, StringComparer.Ordinal);

    /// <summary>Tensors every layer has, whatever the family: what ties hyper.layers to the tensors.</summary>
    public static readonly string[] EveryLayer = ["attn_norm", "attn_output", "ffn_norm"];

    /// <summary>The tensor that makes a layer a routed one (its experts are in an expert grid).</summary>
    public const string Router = "ffn_gate_inp";

    /// <summary>Tensors every dense layer has.</summary>
    public static readonly string[] EveryDenseLayer = ["ffn_gate", "ffn_up", "ffn_down"];

    public static TensorRule? Find(string baseName) => ByName.GetValueOrDefault(baseName);

    private static long QWidth(HyperParameters h) => (long)h.Heads * h.HeadDim;

    private static long KvWidth(HyperParameters h) => (long)h.KvHeads * h.HeadDim;
}
