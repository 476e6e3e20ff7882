namespace Vib3.Kernels.Tests;

public class RopeYarnTests
{
    private static readonly int[] Positions = [0, 1, 7, 4095, 163839];

    /// <summary>DeepSeek-V3 config.json: rope_theta 10000, rope_scaling {factor 40, original_max_position_embeddings 4096,
    /// beta_fast 32, beta_slow 1, mscale 1, mscale_all_dim 1}, qk_rope_head_dim 64, qk_nope_head_dim 128.</summary>
    private static YarnParams DeepSeekV3 => DeepSeekYarn.RopeParamsFromHf(40f, 4096, 1f, 32f, 1f);

    private static IEnumerable<YarnParams> Params()
    {
        yield return DeepSeekV3;
        yield return new YarnParams(0.25f, 0.5f, 1.3f, 16f, 2f, 2048); // partial ramp weight, non-unit attn factor
        yield return new YarnParams(0.125f, 0f, 0.9f, 32f, 1f, 4096);  // linear interpolation only
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FastEqualsReference_BitForBit_AllHeadDims(bool neox)
    {
        var rng = new Random(11);
        var n = 0;
        foreach (var p in Params())
            for (var hd = 2; hd <= 128; hd += 2)
                foreach (var pos in Positions)
                {
                    const int heads = 3;
                    var a = TestData.Floats(rng, heads * hd, 2f);
                    var b = (float[])a.Clone();
                    if (neox) { Rope.NeoxYarn(a, heads, hd, pos, 10000f, p); Rope.ReferenceNeoxYarn(b, heads, hd, pos, 10000f, p); }
                    else { Rope.NormalYarn(a, heads, hd, pos, 10000f, p); Rope.ReferenceNormalYarn(b, heads, hd, pos, 10000f, p); }
                    Assert.True(b.AsSpan().SequenceEqual(a), $"hd={hd} pos={pos} p={p}");
                    n++;
                }
        Assert.Equal(3 * 64 * 5, n);
    }

    /// <summary>ExtFactor 0, FreqScale 1, AttnFactor 1 must be plain rope bit for bit, whatever the (unused) betas/context.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void NoScalingEqualsPlainRope_BitForBit(bool neox)
    {
        var rng = new Random(12);
        var variants = new[] { YarnParams.None, new YarnParams(1f, 0f, 1f, 7f, 3f, 100) };
        foreach (var p in variants)
            foreach (var theta in new[] { 10000f, 50000f })
                for (var hd = 2; hd <= 128; hd += 2)
                    foreach (var pos in Positions)
                    {
                        const int heads = 2;
                        var plain = TestData.Floats(rng, heads * hd, 3f);
                        var yarn = (float[])plain.Clone();
                        var yarnRef = (float[])plain.Clone();
                        if (neox)
                        {
                            Rope.Neox(plain, heads, hd, pos, theta);
                            Rope.NeoxYarn(yarn, heads, hd, pos, theta, p);
                            Rope.ReferenceNeoxYarn(yarnRef, heads, hd, pos, theta, p);
                        }
                        else
                        {
                            Rope.Normal(plain, heads, hd, pos, theta);
                            Rope.NormalYarn(yarn, heads, hd, pos, theta, p);
                            Rope.ReferenceNormalYarn(yarnRef, heads, hd, pos, theta, p);
                        }
                        Assert.True(plain.AsSpan().SequenceEqual(yarn), $"hd={hd} pos={pos}");
                        Assert.True(plain.AsSpan().SequenceEqual(yarnRef), $"ref hd={hd} pos={pos}");
                    }
    }

    /// <summary>By hand, corr_dim(β) = 64·ln(4096 / (2π·β)) / (2·ln 10000), 2·ln 10000 = 18.420681:
    /// β = 32: 4096/201.06193 = 20.371833, ln = 3.0141531, ·64 = 192.90580, /18.420681 = 10.472241 → floor 10;
    /// β = 1: 4096/6.2831853 = 651.89865, ln = 6.4798887, ·64 = 414.71288, /18.420681 = 22.513441 → ceil 23 (≤ 63).</summary>
    [Fact]
    public void CorrDims_DeepSeekV3_HandChecked()
    {
        Assert.Equal(10.472241f, Rope.YarnCorrDim(64, 4096, 32f, 10000f), 4);
        Assert.Equal(22.513441f, Rope.YarnCorrDim(64, 4096, 1f, 10000f), 4);
        var (low, high) = Rope.YarnCorrDims(64, 4096, 10000f, 32f, 1f);
        Assert.Equal(10f, low);
        Assert.Equal(23f, high);
    }

    [Fact]
    public void CorrDims_Clamp()
    {
        // beta_fast so large that the start dim is negative → 0
        Assert.Equal(0f, Rope.YarnCorrDims(64, 4096, 10000f, 1e6f, 1f).Low);
        // context so long that the end dim exceeds n_dims − 1 → 63:
        // 64·ln(2^30 / 2π)/18.420681 = 64·18.956609/18.420681 = 65.86 → ceil 66 → 63
        Assert.Equal(63f, Rope.YarnCorrDims(64, 1 << 30, 10000f, 32f, 1f).High);
    }

    [Fact]
    public void Ramp_Shape()
    {
        // low 10, high 23: 1 (pure extrapolation) up to pair 10, 0 (pure interpolation) from 23, linear between.
        for (var i = 0; i <= 10; i++) Assert.Equal(1f, Rope.YarnRamp(10f, 23f, i));
        for (var i = 23; i < 32; i++) Assert.Equal(0f, Rope.YarnRamp(10f, 23f, i));
        Assert.Equal(1f - 6f / 13f, Rope.YarnRamp(10f, 23f, 16), 6);
        // degenerate range: divides by 0.001 instead of 0
        Assert.Equal(1f, Rope.YarnRamp(5f, 5f, 5));
        Assert.Equal(0f, Rope.YarnRamp(5f, 5f, 6));
    }

    /// <summary>Angles against a double-precision evaluation of the YaRN formula, DeepSeek-V3 values, (1, 0) pairs.</summary>
    [Fact]
    public void DeepSeekV3_AnglesMatchDoubleFormula()
    {
        var p = DeepSeekV3;
        const int hd = 64;
        foreach (var pos in Positions)
        {
            var x = new float[hd];
            for (var i = 0; i < hd; i += 2) x[i] = 1f;
            Rope.NormalYarn(x, 1, hd, pos, 10000f, p);
            for (var i = 0; i < hd / 2; i++)
            {
                var extrap = pos * Math.Pow(10000.0, -2.0 * i / hd);
                var interp = extrap / 40.0;
                var ramp = 1.0 - Math.Clamp((i - 10.0) / 13.0, 0.0, 1.0);
                var th = interp * (1 - ramp) + extrap * ramp;
                // rope magnitude: attn_factor · (1 + 0.1 ln 40) = 1 for mscale = mscale_all_dim
                var tol = 2e-6 + th * (i + 2) * (i + 2) / (1 << 24) * 2;
                Assert.True(Math.Abs(x[2 * i] - Math.Cos(th)) <= tol, $"pos={pos} i={i}: {x[2 * i]} vs {Math.Cos(th)}");
                Assert.True(Math.Abs(x[2 * i + 1] - Math.Sin(th)) <= tol, $"pos={pos} i={i}: {x[2 * i + 1]} vs {Math.Sin(th)}");
            }
        }
    }

    /// <summary>DeepSeek-V3 (factor 40, mscale = mscale_all_dim = 1), by hand: get_mscale(40, 1) = 1 + 0.1·ln 40
    /// = 1 + 0.1·3.6888795 = 1.3688879; squared 1.8738542; / sqrt(192) = 13.856406 → kq_scale 0.13523378.
    /// llama.cpp's rope attn_factor is 1/1.3688879 = 0.73052, so rope_yarn's own ·(1 + 0.1 ln 40) leaves cos/sin at magnitude 1.</summary>
    [Fact]
    public void DeepSeekV3_MscaleAndAttentionScale()
    {
        Assert.Equal(0.1f, DeepSeekYarn.GgufYarnLogMultiplier(1f));
        Assert.Equal(1f, DeepSeekYarn.RopeYarnLogMulFromGguf(0.1f));
        Assert.Equal(1.3688879f, DeepSeekYarn.GetMscale(40f, 1f), 6);
        Assert.Equal(1f, DeepSeekYarn.GetMscale(1f, 1f));
        Assert.Equal(1f, DeepSeekYarn.GetMscale(0.5f, 1f));

        var p = DeepSeekV3;
        Assert.Equal(0.025f, p.FreqScale);
        Assert.Equal(1f, p.ExtFactor);
        Assert.Equal(32f, p.BetaFast);
        Assert.Equal(1f, p.BetaSlow);
        Assert.Equal(4096, p.OriginalContext);
        Assert.Equal(0.73051998, p.AttnFactor, 6);
        var ropeMagnitude = p.AttnFactor * (1f + 0.1f * MathF.Log(1f / p.FreqScale));
        Assert.Equal(1.0, ropeMagnitude, 6);

        var kq = DeepSeekYarn.AttentionScale(192, p, 1f);
        Assert.Equal(0.13523378, kq, 6);
        Assert.Equal(DeepSeekYarn.HfSoftmaxScale(192, 40, 1), kq, 6);
        Assert.Equal(1.8738542 / Math.Sqrt(192), kq, 6);
    }

    [Fact]
    public void OtherMscaleAllDims_MatchHf()
    {
        // DeepSeek-V2-Lite style mscale = mscale_all_dim = 0.707: llama.cpp's deepseek2 special case → rope magnitude 1,
        // kq = get_mscale(f, 0.707)² / sqrt(hd) = HF.
        var p = DeepSeekYarn.RopeParamsFromHf(40f, 4096, 0.707f);
        Assert.Equal(1.0, p.AttnFactor * (1f + 0.1f * MathF.Log(1f / p.FreqScale)), 6);
        Assert.Equal(DeepSeekYarn.HfSoftmaxScale(192, 40, 0.707), DeepSeekYarn.AttentionScale(192, p, 0.707f), 6);

        // No yarn_log_multiplier (rope_yarn_log_mul 0): llama.cpp puts (1 + 0.1 ln f) on the rope and on kq.
        var q = DeepSeekYarn.RopeParams(40f, 4096, 0f);
        Assert.Equal(1.3688879, q.AttnFactor * (1f + 0.1f * MathF.Log(1f / q.FreqScale)), 5);
        Assert.Equal(1.8738542 / Math.Sqrt(192), DeepSeekYarn.AttentionScale(192, q, 0f), 6);

        // ext_factor 0: attn_factor stays 1, kq = (1 + 0.1 ln f)·(1 + 0.1·m·ln f) / sqrt(hd) with attn_factor_org = 1·(1 + 0.1 ln f).
        var r = DeepSeekYarn.RopeParams(40f, 4096, 1f, extFactor: 0f);
        Assert.Equal(1f, r.AttnFactor);
        Assert.Equal(0f, r.ExtFactor);
    }

    [Fact]
    public void Validation()
    {
        Assert.Throws<ArgumentException>(() => new YarnParams(0f, 1f, 1f, 32f, 1f, 4096));
        Assert.Throws<ArgumentException>(() => new YarnParams(-1f, 1f, 1f, 32f, 1f, 4096));
        Assert.Throws<ArgumentException>(() => new YarnParams(float.NaN, 1f, 1f, 32f, 1f, 4096));
        Assert.Throws<ArgumentException>(() => new YarnParams(1f, -0.5f, 1f, 32f, 1f, 4096));
        Assert.Throws<ArgumentException>(() => new YarnParams(1f, 1f, float.PositiveInfinity, 32f, 1f, 4096));
        Assert.Throws<ArgumentException>(() => new YarnParams(1f, 1f, 1f, 0f, 1f, 4096));
        Assert.Throws<ArgumentException>(() => new YarnParams(1f, 1f, 1f, 32f, -1f, 4096));
        Assert.Throws<ArgumentException>(() => new YarnParams(1f, 1f, 1f, 32f, 1f, 0));
        Assert.Throws<ArgumentException>(() => DeepSeekYarn.RopeParams(0f, 4096, 1f));

        // a `with` copy skips the constructor; the kernels re-validate
        var bad = YarnParams.None with { FreqScale = 0f };
        var x = new float[4];
        Assert.Throws<ArgumentException>(() => Rope.NormalYarn(x, 1, 4, 3, 10000f, bad));
        Assert.Throws<ArgumentException>(() => Rope.ReferenceNormalYarn(x, 1, 4, 3, 10000f, bad));
        Assert.Throws<ArgumentException>(() => Rope.NormalYarn(x, 1, 3, 3, 10000f, YarnParams.None));
        Assert.Throws<ArgumentException>(() => Rope.NormalYarn(x, 2, 4, 3, 10000f, YarnParams.None));
    }

    [Fact]
    public void PositionZero_ScalesByMscaleOnly()
    {
        // at pos 0 every angle is 0: cos = mscale, sin = 0 — the output is the input times the rope magnitude
        var p = new YarnParams(0.25f, 1f, 0.8f, 32f, 1f, 4096);
        var mscale = 0.8f * (1f + 0.1f * MathF.Log(4f));
        var rng = new Random(13);
        var x = TestData.Floats(rng, 2 * 64);
        var y = (float[])x.Clone();
        Rope.NormalYarn(y, 2, 64, 0, 10000f, p);
        for (var i = 0; i < x.Length; i++) Assert.Equal(x[i] * mscale, y[i]);
    }
}
