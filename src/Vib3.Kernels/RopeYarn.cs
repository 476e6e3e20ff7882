namespace Vib3.Kernels;

/// <summary>YaRN rope-scaling parameters, named as ggml's <c>ggml_rope_ext</c> takes them.
/// <list type="bullet">
/// <item><see cref="FreqScale"/>: ggml <c>freq_scale</c> = 1 / (HF rope_scaling.factor); the interpolated angle is FreqScale·θ.</item>
/// <item><see cref="ExtFactor"/>: ggml <c>ext_factor</c>, the weight of the extrapolation ramp (llama.cpp uses 1 for YaRN, 0 otherwise).
/// 0 disables both the ramp and the built-in magnitude correction.</item>
/// <item><see cref="AttnFactor"/>: ggml <c>attn_factor</c>, the base multiplier of cos/sin (ggml's starting "mscale").</item>
/// <item><see cref="BetaFast"/>, <see cref="BetaSlow"/>: rotation counts that bound the ramp (ggml_rope_yarn_corr_dims).</item>
/// <item><see cref="OriginalContext"/>: ggml <c>n_ctx_orig</c> (HF original_max_position_embeddings,
/// GGUF <c>rope.scaling.original_context_length</c>).</item>
/// </list>
/// Construction validates; a <c>with</c> copy is re-validated by every kernel that takes it.</summary>
public sealed record YarnParams
{
    public YarnParams(float freqScale, float extFactor, float attnFactor, float betaFast, float betaSlow, int originalContext)
    {
        FreqScale = freqScale;
        ExtFactor = extFactor;
        AttnFactor = attnFactor;
        BetaFast = betaFast;
        BetaSlow = betaSlow;
        OriginalContext = originalContext;
        Validate();
    }

    public float FreqScale { get; init; }
    public float ExtFactor { get; init; }
    public float AttnFactor { get; init; }
    public float BetaFast { get; init; }
    public float BetaSlow { get; init; }
    public int OriginalContext { get; init; }

    /// <summary>No scaling at all: the result equals plain <see cref="Rope.Normal"/> / <see cref="Rope.Neox"/> bit for bit.
    /// Beta / context values are llama.cpp's defaults (unused when ExtFactor is 0).</summary>
    public static YarnParams None { get; } = new(1f, 0f, 1f, 32f, 1f, 4096);

    /// <summary>Throws <see cref="ArgumentException"/> unless every field is usable: FreqScale finite and &gt; 0,
    /// ExtFactor finite and ≥ 0 (llama.cpp's deepseek2 graph asserts ext_factor ≥ 0), AttnFactor finite,
    /// BetaFast / BetaSlow finite and &gt; 0 (they sit under a logarithm), OriginalContext &gt; 0.</summary>
    public void Validate()
    {
        if (!float.IsFinite(FreqScale) || FreqScale <= 0) throw new ArgumentException($"yarn: FreqScale must be finite and > 0, got {FreqScale}");
        if (!float.IsFinite(ExtFactor) || ExtFactor < 0) throw new ArgumentException($"yarn: ExtFactor must be finite and >= 0, got {ExtFactor}");
        if (!float.IsFinite(AttnFactor)) throw new ArgumentException($"yarn: AttnFactor must be finite, got {AttnFactor}");
        if (!float.IsFinite(BetaFast) || BetaFast <= 0) throw new ArgumentException($"yarn: BetaFast must be finite and > 0, got {BetaFast}");
        if (!float.IsFinite(BetaSlow) || BetaSlow <= 0) throw new ArgumentException($"yarn: BetaSlow must be finite and > 0, got {BetaSlow}");
        if (OriginalContext <= 0) throw new ArgumentException($"yarn: OriginalContext must be > 0, got {OriginalContext}");
    }
}

/// <summary>YaRN rope, following ggml's CPU rope (ggml-cpu ops.cpp: ggml_rope_cache_init → rope_yarn → rope_yarn_ramp,
/// with ggml.c's ggml_rope_yarn_corr_dims) in f32, operation for operation:
/// <list type="number">
/// <item>θ_extrap for pair i is ggml's plain angle: pos · theta_scale^i by repeated f32 multiplication,
/// theta_scale = powf(base, −2/headDim) (exactly as <see cref="Rope"/>).</item>
/// <item>θ_interp = FreqScale · θ_extrap; θ = θ_interp.</item>
/// <item>If ExtFactor ≠ 0: ramp_mix = ramp(low, high, i) · ExtFactor with ramp = 1 − min(1, max(0, (i − low) / max(0.001, high − low))),
/// θ = θ_interp·(1 − ramp_mix) + θ_extrap·ramp_mix, and mscale = AttnFactor · (1 + 0.1·logf(1/FreqScale)); otherwise mscale = AttnFactor.</item>
/// <item>cos = cosf(θ)·mscale, sin = sinf(θ)·mscale; the pair is rotated as in plain rope.</item>
/// </list>
/// (low, high) = <see cref="YarnCorrDims"/>(headDim, OriginalContext, base, BetaFast, BetaSlow). Here headDim is ggml's n_dims:
/// call these on exactly the rotated part (DeepSeek/Kimi: the qk_rope slice, 64 wide).</summary>
public static partial class Rope
{
    /// <summary>GPT-J / llama style (consecutive pairs, ggml GGML_ROPE_TYPE_NORMAL) with YaRN scaling.
    /// With <see cref="YarnParams.None"/> (ExtFactor 0, FreqScale 1, AttnFactor 1) equals <see cref="Normal"/> bit for bit.</summary>
    public static void NormalYarn(Span<float> heads, int nHeads, int headDim, int pos, float theta, YarnParams yarn)
        => ApplyYarn(heads, nHeads, headDim, pos, theta, yarn, neox: false);

    /// <summary>GPT-NeoX style (x[i], x[i + headDim/2]) with YaRN scaling.</summary>
    public static void NeoxYarn(Span<float> heads, int nHeads, int headDim, int pos, float theta, YarnParams yarn)
        => ApplyYarn(heads, nHeads, headDim, pos, theta, yarn, neox: true);

    /// <summary>Scalar reference: recomputes every angle per head, straight from the formulas.</summary>
    public static void ReferenceNormalYarn(Span<float> heads, int nHeads, int headDim, int pos, float theta, YarnParams yarn)
        => ReferenceApplyYarn(heads, nHeads, headDim, pos, theta, yarn, neox: false);

    public static void ReferenceNeoxYarn(Span<float> heads, int nHeads, int headDim, int pos, float theta, YarnParams yarn)
        => ReferenceApplyYarn(heads, nHeads, headDim, pos, theta, yarn, neox: true);

    /// <summary>ggml_rope_yarn_corr_dims (ggml.c): the pair-index range [Low, High] over which the YaRN ramp runs.
    /// corr_dim(β) = nDims · logf(nCtxOrig / (β·2π)) / (2·logf(base)), all f32; Low = max(0, floor(corr_dim(betaFast))),
    /// High = min(nDims − 1, ceil(corr_dim(betaSlow))). Pairs with index ≤ Low are pure extrapolation (unscaled angle),
    /// pairs ≥ High pure interpolation (angle · FreqScale), with a linear blend between (when ExtFactor = 1).</summary>
    public static (float Low, float High) YarnCorrDims(int nDims, int nCtxOrig, float freqBase, float betaFast, float betaSlow)
    {
        var start = MathF.Floor(YarnCorrDim(nDims, nCtxOrig, betaFast, freqBase));
        var end = MathF.Ceiling(YarnCorrDim(nDims, nCtxOrig, betaSlow, freqBase));
        // ggml: MAX(0, start), MIN(n_dims - 1, end) — the ternary macros, in f32.
        var low = 0f > start ? 0f : start;
        float top = nDims - 1;
        var high = top < end ? top : end;
        return (low, high);
    }

    /// <summary>ggml's rope_yarn_corr_dim: the (fractional) dimension count at which a frequency completes
    /// <paramref name="nRot"/> rotations over <paramref name="nCtxOrig"/> positions.</summary>
    internal static float YarnCorrDim(int nDims, int nCtxOrig, float nRot, float freqBase)
    {
        float denom = nRot * 2f * MathF.PI; // (n_rot * 2 * (float)M_PI), evaluated left to right in f32
        float ratio = nCtxOrig / denom;     // int / float -> float
        float num = nDims * MathF.Log(ratio);
        return num / (2f * MathF.Log(freqBase));
    }

    /// <summary>ggml's rope_yarn_ramp for pair index <paramref name="pair"/> (ggml passes i0 = 2·pair and divides by 2 in int).</summary>
    internal static float YarnRamp(float low, float high, int pair)
    {
        var span = high - low;
        var y = (pair - low) / (0.001f > span ? 0.001f : span);
        var clampedLow = 0f > y ? 0f : y;
        var clamped = 1f < clampedLow ? 1f : clampedLow;
        return 1f - clamped;
    }

    /// <summary>The (cos, sin) table ggml's rope_yarn gives one position: headDim/2 entries each, already times mscale.</summary>
    internal static void YarnAngles(int headDim, int pos, float theta, YarnParams yarn, Span<float> cos, Span<float> sin)
    {
        var thetaScale = MathF.Pow(theta, -2.0f / headDim);
        var (low, high) = YarnCorrDims(headDim, yarn.OriginalContext, theta, yarn.BetaFast, yarn.BetaSlow);
        var freqScale = yarn.FreqScale;
        var ext = yarn.ExtFactor;
        var mscale = yarn.AttnFactor;
        if (ext != 0f) mscale *= 1.0f + 0.1f * MathF.Log(1.0f / freqScale);
        var t = (float)pos;
        for (var i = 0; i < headDim / 2; i++)
        {
            var interp = freqScale * t;
            var th = interp;
            if (ext != 0f)
            {
                var mix = YarnRamp(low, high, i) * ext;
                th = interp * (1 - mix) + t * mix;
            }
            cos[i] = MathF.Cos(th) * mscale;
            sin[i] = MathF.Sin(th) * mscale;
            t *= thetaScale;
        }
    }

    private static void ApplyYarn(Span<float> heads, int nHeads, int headDim, int pos, float theta, YarnParams yarn, bool neox)
    {
        ArgumentNullException.ThrowIfNull(yarn);
        yarn.Validate();
        Apply(heads, nHeads, headDim, new YarnAngleTable(pos, theta, yarn), neox);
    }

    private readonly struct YarnAngleTable(int pos, float theta, YarnParams yarn) : IAngleTable
    {
        public void Fill(int headDim, Span<float> cos, Span<float> sin) => YarnAngles(headDim, pos, theta, yarn, cos, sin);
    }

    private static void ReferenceApplyYarn(Span<float> heads, int nHeads, int headDim, int pos, float theta, YarnParams yarn, bool neox)
    {
        ArgumentNullException.ThrowIfNull(yarn);
        yarn.Validate();
        CheckArgs(heads, nHeads, headDim);
        var half = headDim / 2;
        var thetaScale = MathF.Pow(theta, -2.0f / headDim);
        var (low, high) = YarnCorrDims(headDim, yarn.OriginalContext, theta, yarn.BetaFast, yarn.BetaSlow);
        for (var h = 0; h < nHeads; h++)
        {
            var x = heads.Slice(h * headDim, headDim);
            var extrap = (float)pos;
            for (var i = 0; i < half; i++)
            {
                // rope_yarn, literally (mscale recomputed per pair, as ggml does)
                var interp = yarn.FreqScale * extrap;
                var th = interp;
                var mscale = yarn.AttnFactor;
                if (yarn.ExtFactor != 0f)
                {
                    var rampMix = YarnRamp(low, high, i) * yarn.ExtFactor;
                    th = interp * (1 - rampMix) + extrap * rampMix;
                    mscale *= 1.0f + 0.1f * MathF.Log(1.0f / yarn.FreqScale);
                }
                float c = MathF.Cos(th) * mscale, s = MathF.Sin(th) * mscale;
                int i0 = neox ? i : 2 * i, i1 = neox ? i + half : 2 * i + 1;
                float x0 = x[i0], x1 = x[i1];
                x[i0] = x0 * c - x1 * s;
                x[i1] = x0 * s + x1 * c;
                extrap *= thetaScale;
            }
        }
    }
}
