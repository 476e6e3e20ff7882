using Vib3.Core;

namespace Vib3.Synth;

public enum ModelFamily
{
    Mixtral,
    Qwen2Moe,
    Qwen3Moe,
    Olmoe,
    /// <summary>DeepSeek-V3 / Kimi K2 (HF DeepseekV3ForCausalLM, GGUF "deepseek2"): MLA attention, grouped
    /// sigmoid router with a selection bias, shared experts, leading dense layers.</summary>
    Deepseek2,
}

/// <summary>Shape and seed of a synthetic MoE checkpoint. Defaults give a tiny model that builds in milliseconds.</summary>
public sealed record SyntheticModelSpec
{
    public ModelFamily Family { get; init; } = ModelFamily.Mixtral;
    public int Layers { get; init; } = 2;

    /// <summary>Hidden size (embedding length).</summary>
    public int Dim { get; init; } = 64;

    /// <summary>Intermediate size of one routed expert.</summary>
    public int ExpertHidden { get; init; } = 64;

    public int Heads { get; init; } = 4;
    public int KvHeads { get; init; } = 2;

    /// <summary>Per-head size; 0 or unset means Dim / Heads.</summary>
    public int HeadDim { get => field > 0 ? field : Dim / Heads; init; }

    public int Experts { get; init; } = 4;
    public int TopK { get; init; } = 2;

    /// <summary>Total vocabulary including the 3 special tokens and 256 byte tokens (at least 259).</summary>
    public int Vocab { get; init; } = 384;

    public int Context { get; init; } = 256;
    public long Seed { get; init; } = 1;

    /// <summary>Stored element type: F32/F16/BF16 for HF; F32/F16/BF16/Q8_0 for GGUF (Q8_0 only for 2-D and
    /// stacked matrices; norms, biases and routers stay F32 as llama.cpp's converter keeps them).</summary>
    public DType DType { get; init; } = DType.F32;

    /// <summary>Intermediate size of Qwen2Moe's shared expert; 0 or unset means 2 × ExpertHidden.</summary>
    public int SharedExpertHidden { get => field > 0 ? field : 2 * ExpertHidden; init; }

    /// <summary>0: HF matrices are stored as <see cref="DType"/>. n &gt; 0: the decoder layers' linear weights are float8
    /// e4m3 scaled per n×n block, with quantization_config in config.json, as DeepSeek-V3 and Kimi K2 publish them
    /// (n = 128); embeddings, lm_head, norms and the router stay <see cref="DType"/>. The GGUF holds what the float8
    /// weights dequantise to, as llama.cpp's converter makes of such a folder.</summary>
    public int Fp8BlockSize { get; init; }

    /// <summary>Number of safetensors shards for the HF folder.</summary>
    public int Shards { get; init; } = 1;

    public double RopeTheta { get; init; } = 1_000_000;
    public double NormEps { get; init; } = 1e-5;

    // ---------------------------------------------------------------- deepseek2 only

    /// <summary>Rank of the compressed query (q_a_proj → q_b_proj); 0 means an uncompressed q_proj.</summary>
    public int QLoraRank { get; init; } = 24;

    /// <summary>Rank of the compressed key/value latent (kv_lora_rank, L).</summary>
    public int KvLoraRank { get; init; } = 32;

    /// <summary>Per-head query/key width without rope (N).</summary>
    public int QkNopeHeadDim { get; init; } = 16;

    /// <summary>Per-head query/key width with rope (R); the rope key is one vector shared by all heads.</summary>
    public int QkRopeHeadDim { get; init; } = 8;

    /// <summary>Per-head value width (V).</summary>
    public int VHeadDim { get; init; } = 16;

    /// <summary>Leading layers with a dense SwiGLU FFN instead of experts (first_k_dense_replace).</summary>
    public int LeadingDenseLayers { get; init; } = 1;

    /// <summary>Width of the leading dense FFN (intermediate_size); 0 or unset means 2 × ExpertHidden.</summary>
    public int DenseHidden { get => field > 0 ? field : 2 * ExpertHidden; init; }

    /// <summary>Shared experts, fused into one FFN of width SharedExperts × ExpertHidden; 0 = none.</summary>
    public int SharedExperts { get; init; } = 1;

    /// <summary>Expert groups (n_group) and how many of them a token may use (topk_group).</summary>
    public int ExpertGroups { get; init; } = 1;
    public int GroupsUsed { get; init; } = 1;

    /// <summary>Factor on the routed experts' weights (routed_scaling_factor / expert_weights_scale).</summary>
    public double RoutedScale { get; init; } = 2.5;

    /// <summary>Whether the chosen experts' weights are renormalised to sum 1 (norm_topk_prob).</summary>
    public bool NormTopKProb { get; init; } = true;

    /// <summary>Router scores by sigmoid (DeepSeek-V3, Kimi K2) rather than softmax (DeepSeek-V2).</summary>
    public bool SigmoidGating { get; init; } = true;

    /// <summary>Whether the router has a selection-only bias (e_score_correction_bias / exp_probs_b).</summary>
    public bool ScoreBias { get; init; } = true;

    /// <summary>GGUF form of kv_b_proj: true = attn_k_b + attn_v_b (llama.cpp's MLA form, one KV head);
    /// false = the older single attn_kv_b with per-head keys and values.</summary>
    public bool MlaSplit { get; init; } = true;

    /// <summary>YaRN rope scaling factor; 0 = no rope scaling.</summary>
    public double YarnFactor { get; init; }

    /// <summary>YaRN original_max_position_embeddings; 0 or unset means Context / YarnFactor.</summary>
    public int YarnOriginalContext
    {
        get => field > 0 ? field : YarnFactor > 0 ? Math.Max(1, (int)(Context / YarnFactor)) : 0;
        init;
    }

    /// <summary>DeepSeek YaRN mscale_all_dim (HF mscale is written equal to it).</summary>
    public double MscaleAllDim { get; init; }

    /// <summary>Multi-token-prediction layers after the main ones; HF only, never in the GGUF.</summary>
    public int MtpLayers { get; init; }

    /// <summary>Factor on the token embedding's values (1: std 0.02 like every matrix). Random projections after
    /// normalised latents (MLA's q_a / kv_a norms) give attention outputs far larger than such embeddings and nearly
    /// the same for every token, so every token routes to the same few experts; a larger embedding keeps each token's
    /// own direction in the residual stream and spreads routing over the experts as a trained model does (benchmarks).</summary>
    public float EmbeddingScale { get; init; } = 1;

    /// <summary>The GGUF's tokenizer.ggml.pre: "gpt-2", the split the synthetic vocabulary was made with; another
    /// name makes a file whose pre-tokenizer vib3 may not know.</summary>
    public string GgufPreTokenizer { get; init; } = SyntheticTokenizer.GgufPre;

    public void Validate()
    {
        static void Check(bool ok, string what)
        {
            if (!ok) throw new Vib3Exception(SqlState.InvalidParameterValue, "synthetic model: " + what);
        }
        Check(Layers >= 1, $"layers must be at least 1, got {Layers}");
        Check(Dim >= 1, $"dim must be positive, got {Dim}");
        Check(ExpertHidden >= 1, $"expert hidden size must be positive, got {ExpertHidden}");
        if (Family == ModelFamily.Deepseek2)
        {
            ValidateDeepseek2(Check);
        }
        else
        {
            Check(Heads >= 1 && KvHeads >= 1 && Heads % KvHeads == 0, $"heads ({Heads}) must be a positive multiple of kv heads ({KvHeads})");
            Check(HeadDim >= 2 && HeadDim % 2 == 0, $"head dim must be even and at least 2, got {HeadDim}");
        }
        Check(Experts >= 1 && TopK >= 1 && TopK <= Experts, $"top-k ({TopK}) must be between 1 and experts ({Experts})");
        Check(Vocab >= SyntheticTokenizer.SpecialCount + 256, $"vocab must be at least {SyntheticTokenizer.SpecialCount + 256}, got {Vocab}");
        Check(Context >= 1, $"context must be positive, got {Context}");
        Check(Shards >= 1, $"shards must be at least 1, got {Shards}");
        Check(Fp8BlockSize >= 0, $"fp8 block size must be 0 (off) or positive, got {Fp8BlockSize}");
        Check(SharedExpertHidden >= 1, $"shared expert hidden size must be positive, got {SharedExpertHidden}");
        Check(RopeTheta > 0 && NormEps > 0, "rope theta and norm eps must be positive");
    }

    private void ValidateDeepseek2(Action<bool, string> check)
    {
        check(Heads >= 1, $"heads must be positive, got {Heads}");
        check(QLoraRank >= 0 && KvLoraRank >= 1, $"q lora rank ({QLoraRank}) must be ≥ 0 and kv lora rank ({KvLoraRank}) ≥ 1");
        check(QkNopeHeadDim >= 1 && VHeadDim >= 1, $"qk nope ({QkNopeHeadDim}) and v ({VHeadDim}) head dims must be positive");
        check(QkRopeHeadDim >= 2 && QkRopeHeadDim % 2 == 0, $"qk rope head dim must be even and at least 2, got {QkRopeHeadDim}");
        check(LeadingDenseLayers >= 0 && LeadingDenseLayers <= Layers, $"leading dense layers ({LeadingDenseLayers}) must be between 0 and layers ({Layers})");
        check(DenseHidden >= 1, $"dense hidden size must be positive, got {DenseHidden}");
        check(SharedExperts >= 0, $"shared experts must be ≥ 0, got {SharedExperts}");
        check(ExpertGroups >= 1 && Experts % ExpertGroups == 0, $"experts ({Experts}) must split evenly into expert groups ({ExpertGroups})");
        check(GroupsUsed >= 1 && GroupsUsed <= ExpertGroups, $"groups used ({GroupsUsed}) must be between 1 and expert groups ({ExpertGroups})");
        // llama.cpp ranks a group by the sum of its two best experts and must still find top-k experts in the kept groups.
        check(ExpertGroups == 1 || (Experts / ExpertGroups >= 2 && GroupsUsed * (Experts / ExpertGroups) >= TopK),
            $"with {ExpertGroups} groups, each needs at least 2 experts and {GroupsUsed} groups must hold top-k ({TopK}) experts");
        check(RoutedScale > 0 && double.IsFinite(RoutedScale), $"routed scale must be positive, got {RoutedScale}");
        check(YarnFactor == 0 || (YarnFactor > 1 && double.IsFinite(YarnFactor)), $"yarn factor must be 0 (off) or above 1, got {YarnFactor}");
        check(MscaleAllDim >= 0 && double.IsFinite(MscaleAllDim), $"mscale_all_dim must be ≥ 0, got {MscaleAllDim}");
        check(MtpLayers >= 0, $"mtp layers must be ≥ 0, got {MtpLayers}");
    }
}
