using System.Text.Json;

namespace Vib3.Synth;

/// <summary>The hyperparameters of a synthetic DeepSeek-V3 / Kimi K2 checkpoint, as config.json keys (DeepSeek-V3's
/// published config) and as the GGUF "deepseek2." keys llama.cpp's converter writes from them.</summary>
internal static class Deepseek2Metadata
{
    private const string Arch = "deepseek2";

    /// <summary>The deepseek2.* keys (the caller writes general.*).</summary>
    public static void AddGguf(SyntheticModelSpec s, GgufWriter w)
    {
        int nr = s.QkNopeHeadDim + s.QkRopeHeadDim;
        w.AddUInt32($"{Arch}.vocab_size", (uint)s.Vocab);
        w.AddUInt32($"{Arch}.context_length", (uint)s.Context);
        w.AddUInt32($"{Arch}.embedding_length", (uint)s.Dim);
        w.AddUInt32($"{Arch}.block_count", (uint)s.Layers); // MTP layers are dropped, as the converter does
        w.AddUInt32($"{Arch}.feed_forward_length", (uint)s.DenseHidden);
        w.AddUInt32($"{Arch}.attention.head_count", (uint)s.Heads);
        w.AddFloat32($"{Arch}.rope.freq_base", (float)s.RopeTheta);
        w.AddFloat32($"{Arch}.attention.layer_norm_rms_epsilon", (float)s.NormEps);
        w.AddUInt32($"{Arch}.expert_count", (uint)s.Experts);
        w.AddUInt32($"{Arch}.expert_used_count", (uint)s.TopK);
        w.AddUInt32($"{Arch}.expert_group_count", (uint)s.ExpertGroups);
        w.AddUInt32($"{Arch}.expert_group_used_count", (uint)s.GroupsUsed);
        w.AddUInt32($"{Arch}.expert_gating_func", s.SigmoidGating ? 2u : 1u);
        w.AddUInt32($"{Arch}.leading_dense_block_count", (uint)s.LeadingDenseLayers);
        // The converter writes q_lora_rank only when the config has one, but llama.cpp requires the key for
        // every deepseek2 file except the "lite" layer counts (26, 27, 48), so 0 is written to mean "attn_q".
        w.AddUInt32($"{Arch}.attention.q_lora_rank", (uint)s.QLoraRank);
        w.AddUInt32($"{Arch}.attention.kv_lora_rank", (uint)s.KvLoraRank);
        if (s.MlaSplit)
        {
            // MLA as MQA: one cache head of latent + rope key; the real per-head widths go in the *_mla keys.
            w.AddUInt32($"{Arch}.attention.head_count_kv", 1);
            w.AddUInt32($"{Arch}.attention.key_length", (uint)(s.KvLoraRank + s.QkRopeHeadDim));
            w.AddUInt32($"{Arch}.attention.value_length", (uint)s.KvLoraRank);
            w.AddUInt32($"{Arch}.attention.key_length_mla", (uint)nr);
            w.AddUInt32($"{Arch}.attention.value_length_mla", (uint)s.VHeadDim);
        }
        else
        {
            // The older form: keys and values decompressed per head through attn_kv_b, cached as MHA.
            w.AddUInt32($"{Arch}.attention.head_count_kv", (uint)s.Heads);
            w.AddUInt32($"{Arch}.attention.key_length", (uint)nr);
            w.AddUInt32($"{Arch}.attention.value_length", (uint)s.VHeadDim);
        }
        w.AddUInt32($"{Arch}.expert_feed_forward_length", (uint)s.ExpertHidden);
        w.AddUInt32($"{Arch}.expert_shared_count", (uint)s.SharedExperts);
        w.AddFloat32($"{Arch}.expert_weights_scale", (float)s.RoutedScale);
        w.AddBool($"{Arch}.expert_weights_norm", s.NormTopKProb);
        w.AddUInt32($"{Arch}.rope.dimension_count", (uint)s.QkRopeHeadDim);
        if (s.YarnFactor > 0)
        {
            w.AddString($"{Arch}.rope.scaling.type", "yarn");
            w.AddFloat32($"{Arch}.rope.scaling.factor", (float)s.YarnFactor);
            w.AddUInt32($"{Arch}.rope.scaling.original_context_length", (uint)s.YarnOriginalContext);
            // The converter stores 0.1 × mscale_all_dim here and llama.cpp's loader divides by 0.1 again.
            w.AddFloat32($"{Arch}.rope.scaling.yarn_log_multiplier", (float)(0.1 * s.MscaleAllDim));
        }
    }

    /// <summary>The family's keys of config.json (the caller writes the common ones).</summary>
    public static void WriteConfig(SyntheticModelSpec s, Utf8JsonWriter w)
    {
        w.WriteNumber("moe_intermediate_size", s.ExpertHidden);
        w.WriteNumber("num_nextn_predict_layers", s.MtpLayers);
        w.WriteNumber("num_key_value_heads", s.Heads); // MLA has no grouped-query heads
        if (s.QLoraRank > 0) w.WriteNumber("q_lora_rank", s.QLoraRank);
        else w.WriteNull("q_lora_rank");
        w.WriteNumber("kv_lora_rank", s.KvLoraRank);
        w.WriteNumber("qk_nope_head_dim", s.QkNopeHeadDim);
        w.WriteNumber("qk_rope_head_dim", s.QkRopeHeadDim);
        w.WriteNumber("v_head_dim", s.VHeadDim);
        w.WriteNumber("n_routed_experts", s.Experts);
        if (s.SharedExperts > 0) w.WriteNumber("n_shared_experts", s.SharedExperts);
        else w.WriteNull("n_shared_experts");
        w.WriteNumber("num_experts_per_tok", s.TopK);
        w.WriteNumber("n_group", s.ExpertGroups);
        w.WriteNumber("topk_group", s.GroupsUsed);
        // DeepSeek's modeling code picks the selection rule by name: noaux_tc is the biased (V3) one.
        w.WriteString("topk_method", s.ScoreBias ? "noaux_tc" : s.ExpertGroups > 1 ? "group_limited_greedy" : "greedy");
        w.WriteString("scoring_func", s.SigmoidGating ? "sigmoid" : "softmax");
        w.WriteBoolean("norm_topk_prob", s.NormTopKProb);
        w.WriteNumber("routed_scaling_factor", s.RoutedScale);
        w.WriteNumber("first_k_dense_replace", s.LeadingDenseLayers);
        w.WriteNumber("moe_layer_freq", 1);
        w.WriteBoolean("attention_bias", false);
        w.WriteBoolean("rope_interleave", true);
        if (s.YarnFactor > 0)
        {
            w.WriteStartObject("rope_scaling");
            w.WriteString("type", "yarn");
            w.WriteNumber("factor", s.YarnFactor);
            w.WriteNumber("original_max_position_embeddings", s.YarnOriginalContext);
            w.WriteNumber("beta_fast", 32);
            w.WriteNumber("beta_slow", 1);
            w.WriteNumber("mscale", s.MscaleAllDim);
            w.WriteNumber("mscale_all_dim", s.MscaleAllDim);
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("rope_scaling");
        }
    }
}
