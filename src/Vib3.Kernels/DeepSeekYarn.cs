namespace Vib3.Kernels;

/// <summary>How llama.cpp turns a DeepSeek-V2/V3 / Kimi-K2 style HF <c>rope_scaling</c> block
/// ({type: yarn, factor, original_max_position_embeddings, beta_fast, beta_slow, mscale, mscale_all_dim})
/// into ggml rope arguments and the attention (KQ) scale. Every step is f32, in llama.cpp's order:
/// <list type="number">
/// <item>convert_hf_to_gguf.py (DeepseekV2Model.set_gguf_parameters): rope.scaling.factor = factor,
/// rope.scaling.original_context_length = original_max_position_embeddings, and
/// rope.scaling.yarn_log_multiplier = 0.1 · mscale_all_dim (a legacy 0.1, [TAG_DEEPSEEK2_YARN_LOG_MUL_FIX], PR 17945).
/// beta_fast / beta_slow are not written for deepseek2; llama.cpp uses its context defaults 32 / 1.</item>
/// <item>Loader (deepseek2 load_hparams): rope_yarn_log_mul = GGUF value / 0.1 (undoing the converter), i.e. mscale_all_dim;
/// rope_freq_scale_train = 1 / factor.</item>
/// <item>llama-context.cpp (context construction, YaRN and ext_factor ≠ 0): factor' = 1 / freq_scale;
/// get_mscale(s, m) = s ≤ 1 ? 1 : 0.1·m·logf(s) + 1;
/// if rope_yarn_log_mul ≠ 0: mscale = 1, mscale_all = rope_yarn_log_mul, and for DEEPSEEK2 with mscale_all ≠ 1, mscale = mscale_all;
/// yarn_attn_factor = get_mscale(factor', mscale) / get_mscale(factor', mscale_all) — else yarn_attn_factor = get_mscale(factor', 1);
/// then yarn_attn_factor ·= 1 / (1 + 0.1·logf(factor')) to cancel the factor ggml's rope_yarn multiplies back in;
/// then ·= hparams.rope_attn_factor (1 unless the GGUF sets rope.scaling.attn_factor).</item>
/// <item>src/models/deepseek2.cpp (graph): attn_factor_org = attn_factor · (1 + 0.1·logf(1/freq_scale));
/// mscale = attn_factor_org · (1 + 0.1·rope_yarn_log_mul·logf(1/freq_scale)); kq_scale = mscale·mscale / sqrtf(n_embd_head_k),
/// n_embd_head_k = qk_nope_head_dim + qk_rope_head_dim (192 for DeepSeek-V3 / Kimi K2). The rope itself is
/// ggml_rope_ext(..., n_rot = qk_rope_head_dim, GGML_ROPE_TYPE_NORMAL, n_ctx_orig, freq_base, freq_scale, ext_factor, attn_factor, beta_fast, beta_slow).</item>
/// </list>
/// Net effect (matching HF modeling_deepseek): rope cos/sin carry get_mscale(f, mscale)/get_mscale(f, mscale_all_dim)
/// (1 for DeepSeek-V3), and the softmax scale is get_mscale(f, mscale)² / sqrt(qk_head_dim) (HF: get_mscale(f, mscale_all_dim)²·qk_head_dim^-0.5;
/// the two agree whenever llama.cpp's assumption mscale = 1, or its deepseek2 special case mscale = mscale_all_dim, holds).</summary>
public static class DeepSeekYarn
{
    /// <summary>HF yarn_get_mscale / llama.cpp's get_mscale: s ≤ 1 → 1, else 0.1·m·ln(s) + 1 (f32, logf).</summary>
    public static float GetMscale(float scale, float mscale)
        => scale <= 1.0f ? 1.0f : 0.1f * mscale * MathF.Log(scale) + 1.0f;

    /// <summary>The GGUF <c>rope.scaling.yarn_log_multiplier</c> value convert_hf_to_gguf writes for deepseek2: 0.1 · mscale_all_dim.</summary>
    public static float GgufYarnLogMultiplier(float mscaleAllDim) => 0.1f * mscaleAllDim;

    /// <summary>llama.cpp's hparams.rope_yarn_log_mul from the GGUF value (deepseek2 loader divides the converter's 0.1 back out).</summary>
    public static float RopeYarnLogMulFromGguf(float ggufYarnLogMultiplier) => ggufYarnLogMultiplier / 0.1f;

    /// <summary>The ggml rope arguments llama.cpp uses for a deepseek2-architecture model with YaRN scaling.
    /// <paramref name="ropeYarnLogMul"/> is hparams.rope_yarn_log_mul (= mscale_all_dim; 0 when the GGUF has no yarn_log_multiplier).
    /// <paramref name="ropeAttnFactor"/> is hparams.rope_attn_factor (GGUF rope.scaling.attn_factor, default 1).
    /// <paramref name="extFactor"/> is llama.cpp's default for YaRN (1); with 0 no YaRN attention correction is applied.</summary>
    public static YarnParams RopeParams(float factor, int originalContext, float ropeYarnLogMul,
        float betaFast = 32f, float betaSlow = 1f, float extFactor = 1f, float ropeAttnFactor = 1f)
    {
        if (!float.IsFinite(factor) || factor <= 0) throw new ArgumentException($"yarn: factor must be finite and > 0, got {factor}");
        if (!float.IsFinite(ropeYarnLogMul)) throw new ArgumentException($"yarn: rope_yarn_log_mul must be finite, got {ropeYarnLogMul}");
        var freqScale = 1.0f / factor;          // hparams.rope_freq_scale_train
        var attnFactor = 1.0f;                  // llama_context_params default yarn_attn_factor
        if (extFactor != 0f)
        {
            var f = 1.0f / freqScale;           // llama-context.cpp: factor = 1 / rope_freq_scale
            if (ropeYarnLogMul != 0f)
            {
                var mscale = 1.0f;
                var mscaleAll = ropeYarnLogMul;
                if (mscaleAll != 1.0f) mscale = mscaleAll; // the DEEPSEEK2 special case
                attnFactor = GetMscale(f, mscale) / GetMscale(f, mscaleAll);
            }
            else
            {
                attnFactor = GetMscale(f, 1.0f);
            }
            attnFactor *= 1.0f / (1.0f + 0.1f * MathF.Log(f));
        }
        attnFactor *= ropeAttnFactor;
        return new YarnParams(freqScale, extFactor, attnFactor, betaFast, betaSlow, originalContext);
    }

    /// <summary>RopeParams from the HF rope_scaling values (mscale_all_dim absent → pass 0).</summary>
    public static YarnParams RopeParamsFromHf(float factor, int originalMaxPositionEmbeddings, float mscaleAllDim,
        float betaFast = 32f, float betaSlow = 1f)
        => RopeParams(factor, originalMaxPositionEmbeddings,
            RopeYarnLogMulFromGguf(GgufYarnLogMultiplier(mscaleAllDim)), betaFast, betaSlow);

    /// <summary>llama.cpp deepseek2 graph's kq_scale for the given rope params: mscale² / sqrt(qkHeadDim),
    /// mscale = attn_factor·(1 + 0.1·logf(1/freq_scale)) · (1 + 0.1·rope_yarn_log_mul·logf(1/freq_scale)).
    /// <paramref name="qkHeadDim"/> = qk_nope_head_dim + qk_rope_head_dim (192 for DeepSeek-V3).</summary>
    public static float AttentionScale(int qkHeadDim, YarnParams rope, float ropeYarnLogMul)
    {
        ArgumentNullException.ThrowIfNull(rope);
        rope.Validate();
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(qkHeadDim);
        var logInv = MathF.Log(1.0f / rope.FreqScale);
        var attnFactorOrg = rope.AttnFactor * (1.0f + 0.1f * logInv);
        var mscale = attnFactorOrg * (1.0f + 0.1f * ropeYarnLogMul * logInv);
        return 1.0f * mscale * mscale / MathF.Sqrt(qkHeadDim);
    }

    /// <summary>HF modeling_deepseek's softmax_scale: qk_head_dim^-0.5, times get_mscale(factor, mscale_all_dim)² when
    /// mscale_all_dim ≠ 0. In double, as a cross-check of <see cref="AttentionScale"/>.</summary>
    public static double HfSoftmaxScale(int qkHeadDim, double factor, double mscaleAllDim)
    {
        var s = 1.0 / Math.Sqrt(qkHeadDim);
        if (mscaleAllDim != 0)
        {
            var m = factor <= 1 ? 1.0 : 0.1 * mscaleAllDim * Math.Log(factor) + 1.0;
            s *= m * m;
        }
        return s;
    }
}
