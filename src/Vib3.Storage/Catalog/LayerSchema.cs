namespace Vib3.Storage.Catalog;

/// <summary>The operators of the forward pass, in the order a layer runs them (the plan's physical operators; see
/// docs/architecture.md). Each tensor of <see cref="LayerSchema"/> belongs to one.</summary>
public enum OperatorKind
{
    /// <summary>The token's row of token_embd becomes the residual stream.</summary>
    Embed,
    /// <summary>RMSNorm, q/k/v (or latent) projections, RoPE, the cache, attention, the output projection, the residual add.</summary>
    Attention,
    /// <summary>The next layer's router on this residual: its experts' pages start loading (expert prefetch).</summary>
    Prediction,
    /// <summary>RMSNorm of the residual into the FFN half's input.</summary>
    FfnNorm,
    /// <summary>Router logits and each row's experts (softmax top-k, or the grouped router).</summary>
    Router,
    /// <summary>The routed experts' bundle pages, run on the rows that chose them (or the pages the index retrieves).</summary>
    Experts,
    /// <summary>The always-on shared expert, optionally sigmoid-gated.</summary>
    SharedExpert,
    /// <summary>A leading dense layer's SwiGLU FFN.</summary>
    DenseFfn,
    /// <summary>RMSNorm of the last residual.</summary>
    FinalNorm,
    /// <summary>The output projection to the vocabulary's logits.</summary>
    LmHead,
    /// <summary>The next token from the logits (the statement's sampling).</summary>
    Sample,
}

/// <summary>Which layers a tensor may appear in.</summary>
public enum TensorPlace
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

/// <summary>A tensor the forward pass reads, by its name without the "blk.N." prefix: its role, the operator that reads
/// it, and the shapes the hyper-parameters allow it (as stored: a matrix [rows, cols] or a vector [n]).</summary>
public sealed record SchemaTensor(string BaseName, string Role, OperatorKind Operator, TensorPlace Place, string Formula,
    Func<HyperParameters, long[][]> Shapes)
{
    /// <summary>The tensor's name in layer <paramref name="layer"/> ("blk.3.attn_q"), or its name for a model tensor.</summary>
    public string In(int layer) => Place == TensorPlace.Model ? BaseName : LayerSchema.Layered(layer, BaseName);
}

/// <summary>The one layer schema: the tensors the forward pass reads, which operator reads each, and the shapes it
/// relies on. Every family's layer is a selection of these (its descriptor in catalog/families names which and where
/// a checkpoint keeps them, and is checked against this list when loaded); manifests are held to it
/// (<see cref="ManifestValidator"/>, which must not trust the manifest), the planner and the forward program group a
/// layer's tensors into operators by it, the weights are found by its names, and the page classes follow its
/// operators. A tensor the forward pass does not read has no business in a manifest: a new one is added here when the
/// forward pass learns it (conversion tests fail until then, since publishing validates). The routed experts are
/// not tensors here: they are stored as expert grids (bundle pages), read by <see cref="OperatorKind.Experts"/>.</summary>
public static class LayerSchema
{
    private static readonly SchemaTensor[] Rules =
    [
        new(TokenEmbedding, "embedding", OperatorKind.Embed, TensorPlace.Model, "vocab, dim", h => [[h.Vocab, h.Dim]]),
        new(Output, "lm_head", OperatorKind.LmHead, TensorPlace.Model, "vocab, dim", h => [[h.Vocab, h.Dim]]),
        new(OutputNorm, "norm", OperatorKind.FinalNorm, TensorPlace.Model, "dim", h => [[h.Dim]]),
        new("attn_norm", "norm", OperatorKind.Attention, TensorPlace.AnyLayer, "dim", h => [[h.Dim]]),
        new("ffn_norm", "norm", OperatorKind.FfnNorm, TensorPlace.AnyLayer, "dim", h => [[h.Dim]]),
        new("attn_q", "attn_q", OperatorKind.Attention, TensorPlace.AnyLayer, "heads·headDim, dim", h => [[QWidth(h), h.Dim]]),
        new("attn_k", "attn_k", OperatorKind.Attention, TensorPlace.AnyLayer, "kvHeads·headDim, dim", h => [[KvWidth(h), h.Dim]]),
        new("attn_v", "attn_v", OperatorKind.Attention, TensorPlace.AnyLayer, "kvHeads·headDim, dim", h => [[KvWidth(h), h.Dim]]),
        new("attn_output", "attn_output", OperatorKind.Attention, TensorPlace.AnyLayer, "dim, heads·(vHeadDim if latent, else headDim)",
            h => [[h.Dim, (long)h.Heads * (h.KvLoraRank > 0 ? h.VHeadDim : h.HeadDim)]]),
        // Per head (Qwen3-MoE) or over the whole projection (OLMoE).
        new("attn_q_norm", "norm", OperatorKind.Attention, TensorPlace.AnyLayer, "headDim or heads·headDim", h => [[h.HeadDim], [QWidth(h)]]),
        new("attn_k_norm", "norm", OperatorKind.Attention, TensorPlace.AnyLayer, "headDim or kvHeads·headDim", h => [[h.HeadDim], [KvWidth(h)]]),
        new("attn_q_bias", "bias", OperatorKind.Attention, TensorPlace.AnyLayer, "heads·headDim", h => [[QWidth(h)]]),
        new("attn_k_bias", "bias", OperatorKind.Attention, TensorPlace.AnyLayer, "kvHeads·headDim", h => [[KvWidth(h)]]),
        new("attn_v_bias", "bias", OperatorKind.Attention, TensorPlace.AnyLayer, "kvHeads·headDim", h => [[KvWidth(h)]]),
        new("attn_q_a", "attn_q_a", OperatorKind.Attention, TensorPlace.AnyLayer, "qLoraRank, dim", h => [[h.QLoraRank, h.Dim]]),
        new("attn_q_a_norm", "norm", OperatorKind.Attention, TensorPlace.AnyLayer, "qLoraRank", h => [[h.QLoraRank]]),
        new("attn_q_b", "attn_q_b", OperatorKind.Attention, TensorPlace.AnyLayer, "heads·headDim, qLoraRank", h => [[QWidth(h), h.QLoraRank]]),
        new("attn_kv_a_mqa", "attn_kv_a_mqa", OperatorKind.Attention, TensorPlace.AnyLayer, "kvLoraRank+qkRopeHeadDim, dim",
            h => [[(long)h.KvLoraRank + h.QkRopeHeadDim, h.Dim]]),
        new("attn_kv_a_norm", "norm", OperatorKind.Attention, TensorPlace.AnyLayer, "kvLoraRank", h => [[h.KvLoraRank]]),
        new("attn_k_b", "attn_k_b", OperatorKind.Attention, TensorPlace.AnyLayer, "heads·kvLoraRank, qkNopeHeadDim",
            h => [[(long)h.Heads * h.KvLoraRank, h.QkNopeHeadDim]]),
        new("attn_v_b", "attn_v_b", OperatorKind.Attention, TensorPlace.AnyLayer, "heads·vHeadDim, kvLoraRank", h => [[(long)h.Heads * h.VHeadDim, h.KvLoraRank]]),
        new("ffn_gate", "ffn_gate", OperatorKind.DenseFfn, TensorPlace.DenseLayer, "denseHidden, dim", h => [[h.DenseHidden, h.Dim]]),
        new("ffn_up", "ffn_up", OperatorKind.DenseFfn, TensorPlace.DenseLayer, "denseHidden, dim", h => [[h.DenseHidden, h.Dim]]),
        new("ffn_down", "ffn_down", OperatorKind.DenseFfn, TensorPlace.DenseLayer, "dim, denseHidden", h => [[h.Dim, h.DenseHidden]]),
        new("ffn_gate_inp", "router", OperatorKind.Router, TensorPlace.MoeLayer, "experts, dim", h => [[h.Experts, h.Dim]]),
        new("exp_probs_b", "router_bias", OperatorKind.Router, TensorPlace.MoeLayer, "experts", h => [[h.Experts]]),
        new("ffn_gate_shexp", "shared_gate", OperatorKind.SharedExpert, TensorPlace.MoeLayer, "sharedExpertHidden, dim", h => [[h.SharedExpertHidden, h.Dim]]),
        new("ffn_up_shexp", "shared_up", OperatorKind.SharedExpert, TensorPlace.MoeLayer, "sharedExpertHidden, dim", h => [[h.SharedExpertHidden, h.Dim]]),
        new("ffn_down_shexp", "shared_down", OperatorKind.SharedExpert, TensorPlace.MoeLayer, "dim, sharedExpertHidden", h => [[h.Dim, h.SharedExpertHidden]]),
        new("ffn_gate_inp_shexp", "shared_router", OperatorKind.SharedExpert, TensorPlace.MoeLayer, "dim", h => [[h.Dim]]),
    ];

    private static readonly Dictionary<string, SchemaTensor> ByName = Rules.ToDictionary(r => r.BaseName, StringComparer.Ordinal);

    /// <summary>Tensors every layer has, whatever the family: what ties hyper.layers to the tensors.</summary>
    public static readonly string[] EveryLayer = ["attn_norm", "attn_output", "ffn_norm"];

    /// <summary>The tensor that makes a layer a routed one (its experts are in an expert grid).</summary>
    public const string Router = "ffn_gate_inp";

    /// <summary>Tensors every dense layer has.</summary>
    public static readonly string[] EveryDenseLayer = ["ffn_gate", "ffn_up", "ffn_down"];

    public static SchemaTensor? Find(string baseName) => ByName.GetValueOrDefault(baseName);

    /// <summary>The tensors <paramref name="op"/> reads, in schema order.</summary>
    public static IEnumerable<SchemaTensor> Of(OperatorKind op) => Rules.Where(r => r.Operator == op);

    /// <summary>"blk.{layer}.{baseName}".</summary>
    public static string Layered(int layer, string baseName) => $"blk.{layer.ToString(System.Globalization.CultureInfo.InvariantCulture)}.{baseName}";

    /// <summary>"blk.3.attn_q" → (3, "attn_q"); "token_embd" → (null, "token_embd"); a malformed layer → (null, the name).</summary>
    public static (int? Layer, string BaseName) Split(string name)
    {
        if (!name.StartsWith("blk.", StringComparison.Ordinal)) return (null, name);
        var dot = name.IndexOf('.', 4);
        if (dot < 0 || !int.TryParse(name.AsSpan(4, dot - 4), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var layer)
            || Layered(layer, "") != name[..(dot + 1)])
            return (null, name);
        return (layer, name[(dot + 1)..]);
    }

    public const string TokenEmbedding = "token_embd";
    public const string Output = "output";
    public const string OutputNorm = "output_norm";

    private static long QWidth(HyperParameters h) => (long)h.Heads * h.HeadDim;

    private static long KvWidth(HyperParameters h) => (long)h.KvHeads * h.HeadDim;
}
