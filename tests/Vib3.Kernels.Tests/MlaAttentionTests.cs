using Xunit.Abstractions;

namespace Vib3.Kernels.Tests;

public class MlaAttentionTests(ITestOutputHelper log)
{
    private sealed record Case(MlaShape S, int Positions, float[] QNope, float[] QRope, float[] Latents, float[] KRope,
        float[] WKb, float[] WVb, float Scale);

    // Weights ~ U(-1,1)/sqrt(R) so decompressed k/v are O(1); scale = 1/sqrt(Dn+Dr); qScale sharpens the softmax.
    private static Case Make(MlaShape s, int positions, int seed, float qScale = 1f)
    {
        var rng = new Random(seed);
        var w = 1f / MathF.Sqrt(s.Rank);
        return new Case(s, positions,
            TestData.Floats(rng, s.Heads * s.NopeDim, qScale), TestData.Floats(rng, s.Heads * s.RopeDim, qScale),
            TestData.Floats(rng, positions * s.Rank), TestData.Floats(rng, positions * s.RopeDim),
            TestData.Floats(rng, s.Heads * s.NopeDim * s.Rank, w), TestData.Floats(rng, s.Heads * s.VDim * s.Rank, w),
            1f / MathF.Sqrt(s.NopeDim + s.RopeDim));
    }

    private static float[] RunReference(Case c)
    {
        var o = new float[c.S.Heads * c.S.VDim];
        MlaAttention.Reference(c.S, c.QNope, c.QRope, c.Latents, c.KRope, c.Positions, c.WKb, c.WVb, c.Scale, o,
            new float[MlaAttention.ReferenceScratchLength(c.S, c.Positions)]);
        return o;
    }

    private static float[] RunAbsorbed(Case c)
    {
        var o = new float[c.S.Heads * c.S.VDim];
        MlaAttention.DecodeAbsorbed(c.S, c.QNope, c.QRope, c.Latents, c.KRope, c.Positions, c.WKb, c.WVb, c.Scale, o,
            new float[MlaAttention.AbsorbedScratchLength(c.S, c.Positions)]);
        return o;
    }

    /// <summary>max_i |a_i − e_i| / ‖e‖₂, and the same per head (max over heads of max-abs diff / ‖e_h‖₂).</summary>
    private static (double Whole, double PerHead) RelDiff(float[] e, float[] a, int heads, int dv)
    {
        double norm = 0, maxd = 0, perHead = 0;
        for (var h = 0; h < heads; h++)
        {
            double hn = 0, hd = 0;
            for (var j = 0; j < dv; j++)
            {
                var i = h * dv + j;
                hn += (double)e[i] * e[i];
                hd = Math.Max(hd, Math.Abs((double)a[i] - e[i]));
            }
            norm += hn;
            maxd = Math.Max(maxd, hd);
            perHead = Math.Max(perHead, hd / Math.Sqrt(hn));
        }
        return (maxd / Math.Sqrt(norm), perHead);
    }

    private void AssertAgree(Case c, double tol = 1e-5)
    {
        var e = RunReference(c);
        var a = RunAbsorbed(c);
        var (whole, perHead) = RelDiff(e, a, c.S.Heads, c.S.VDim);
        log.WriteLine($"{c.S} T={c.Positions}: max|diff|/‖o‖ = {whole:E2}, per-head {perHead:E2}");
        Assert.True(whole <= tol, $"{c.S} T={c.Positions}: relative diff {whole:E3} > {tol:E0}");
        Assert.True(perHead <= 10 * tol, $"{c.S} T={c.Positions}: per-head relative diff {perHead:E3}");
    }

    [Theory]
    [InlineData(2, 4, 2, 4, 8)]      // small
    [InlineData(3, 5, 3, 7, 13)]     // odd sizes / SIMD tails
    [InlineData(1, 1, 0, 1, 1)]      // degenerate: no rope part, rank 1
    [InlineData(4, 16, 8, 16, 33)]
    [InlineData(5, 33, 9, 31, 67)]   // odd, wider than one vector
    public void Absorbed_MatchesNaive(int h, int dn, int dr, int dv, int r)
    {
        var s = new MlaShape(h, dn, dr, dv, r);
        foreach (var t in new[] { 1, 2, 17, 300 })
        {
            AssertAgree(Make(s, t, h * 1000 + dn * 10 + t));
            AssertAgree(Make(s, t, h * 1000 + dn * 10 + t + 7, qScale: 4f)); // sharper softmax
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(17)]
    [InlineData(64)]
    public void Absorbed_MatchesNaive_DeepSeekV3Shape(int positions)
        => AssertAgree(Make(MlaShape.DeepSeekV3, positions, 42 + positions));

    [Fact]
    public void OnePosition_OutputIsV()
    {
        var s = new MlaShape(1, 2, 2, 2, 2);
        var c = new Case(s, 1, QNope: [3, -1], QRope: [0.5f, 2], Latents: [1, 2], KRope: [4, -3],
            WKb: [1, 2, 3, 4], WVb: [1, 0, 2, 3], Scale: 0.7f);
        float[] v = [1, 8]; // WVb · c = [1·1 + 0·2, 2·1 + 3·2]
        Assert.Equal(v, RunReference(c));
        Assert.Equal(v, RunAbsorbed(c));
    }

    [Fact]
    public void TwoPositionsEqualScores_OutputIsMeanOfV()
    {
        // WKb = I: k_nope = c. q_nope·c = 1 and 0; q_rope·k_rope = 0 and 1 → both scores 1.
        var s = new MlaShape(1, 2, 2, 2, 2);
        var c = new Case(s, 2, QNope: [1, 0], QRope: [1, 0], Latents: [1, 2, 0, 5], KRope: [0, 0, 1, 0],
            WKb: [1, 0, 0, 1], WVb: [1, 0, 2, 3], Scale: 0.7f);
        float[] mean = [0.5f, 11.5f]; // v1 = [1, 8], v2 = [0, 15]
        Assert.Equal(mean, RunReference(c));
        Assert.Equal(mean, RunAbsorbed(c));
    }

    [Fact]
    public void SplitKvB_RoundTripsAndIndexesPerHead()
    {
        var s = new MlaShape(3, 4, 2, 5, 6);
        var rng = new Random(7);
        var kvB = TestData.Floats(rng, s.Heads * (s.NopeDim + s.VDim) * s.Rank);
        var kb = new float[s.Heads * s.NopeDim * s.Rank];
        var vb = new float[s.Heads * s.VDim * s.Rank];
        MlaAttention.SplitKvB(s, kvB, kb, vb);
        for (var h = 0; h < s.Heads; h++)
            for (var i = 0; i < s.Rank; i++)
            {
                for (var d = 0; d < s.NopeDim; d++)
                    Assert.Equal(kvB[(h * (s.NopeDim + s.VDim) + d) * s.Rank + i], kb[(h * s.NopeDim + d) * s.Rank + i]);
                for (var j = 0; j < s.VDim; j++)
                    Assert.Equal(kvB[(h * (s.NopeDim + s.VDim) + s.NopeDim + j) * s.Rank + i], vb[(h * s.VDim + j) * s.Rank + i]);
            }
        var back = new float[kvB.Length];
        MlaAttention.MergeKvB(s, kb, vb, back);
        Assert.Equal(kvB, back);
    }

    [Fact]
    public void KbFromGguf_TransposesPerHead()
    {
        var s = new MlaShape(2, 3, 1, 2, 4);
        var gguf = new float[s.Heads * s.Rank * s.NopeDim];
        for (var i = 0; i < gguf.Length; i++) gguf[i] = i;
        var kb = new float[gguf.Length];
        MlaAttention.KbFromGguf(s, gguf, kb);
        for (var h = 0; h < s.Heads; h++)
            for (var d = 0; d < s.NopeDim; d++)
                for (var r = 0; r < s.Rank; r++)
                    Assert.Equal(gguf[(h * s.Rank + r) * s.NopeDim + d], kb[(h * s.NopeDim + d) * s.Rank + r]);
    }

    [Fact]
    public void CacheBytesPerToken_DeepSeekV3AndKimiK2()
    {
        Assert.Equal((512 + 64) * 2, MlaAttention.CacheBytesPerToken(MlaShape.DeepSeekV3, 2));      // 1152
        Assert.Equal(128 * (192 + 128) * 2, MlaAttention.NaiveCacheBytesPerToken(MlaShape.DeepSeekV3, 2)); // 81920
        Assert.Equal(1152, MlaAttention.CacheBytesPerToken(MlaShape.KimiK2, 2));
        Assert.Equal(64 * (192 + 128) * 2, MlaAttention.NaiveCacheBytesPerToken(MlaShape.KimiK2, 2));     // 40960
        Assert.Equal(576 * 4, MlaAttention.CacheBytesPerToken(MlaShape.DeepSeekV3, 4));
    }

    [Fact]
    public void Validation_NamesTheArgument()
    {
        var c = Make(new MlaShape(2, 4, 2, 4, 8), 3, 1);
        var o = new float[8];
        var scratch = new float[MlaAttention.AbsorbedScratchLength(c.S, 3)];
        string Name(Action a) => Assert.ThrowsAny<ArgumentException>(a).ParamName!;

        Assert.Equal("positions", Name(() => MlaAttention.DecodeAbsorbed(c.S, c.QNope, c.QRope, c.Latents, c.KRope, 0, c.WKb, c.WVb, c.Scale, o, scratch)));
        Assert.Equal("qNope", Name(() => MlaAttention.DecodeAbsorbed(c.S, c.QNope[..7], c.QRope, c.Latents, c.KRope, 3, c.WKb, c.WVb, c.Scale, o, scratch)));
        Assert.Equal("qRope", Name(() => MlaAttention.DecodeAbsorbed(c.S, c.QNope, c.QRope[..3], c.Latents, c.KRope, 3, c.WKb, c.WVb, c.Scale, o, scratch)));
        Assert.Equal("latents", Name(() => MlaAttention.DecodeAbsorbed(c.S, c.QNope, c.QRope, c.Latents, c.KRope, 4, c.WKb, c.WVb, c.Scale, o, new float[100])));
        Assert.Equal("kRope", Name(() => MlaAttention.DecodeAbsorbed(c.S, c.QNope, c.QRope, c.Latents, c.KRope[..5], 3, c.WKb, c.WVb, c.Scale, o, scratch)));
        Assert.Equal("wKb", Name(() => MlaAttention.DecodeAbsorbed(c.S, c.QNope, c.QRope, c.Latents, c.KRope, 3, c.WKb[1..], c.WVb, c.Scale, o, scratch)));
        Assert.Equal("wVb", Name(() => MlaAttention.Reference(c.S, c.QNope, c.QRope, c.Latents, c.KRope, 3, c.WKb, c.WVb[1..], c.Scale, o, scratch)));
        Assert.Equal("output", Name(() => MlaAttention.DecodeAbsorbed(c.S, c.QNope, c.QRope, c.Latents, c.KRope, 3, c.WKb, c.WVb, c.Scale, new float[7], scratch)));
        Assert.Equal("scratch", Name(() => MlaAttention.DecodeAbsorbed(c.S, c.QNope, c.QRope, c.Latents, c.KRope, 3, c.WKb, c.WVb, c.Scale, o, scratch[1..])));
        Assert.Equal("scratch", Name(() => MlaAttention.Reference(c.S, c.QNope, c.QRope, c.Latents, c.KRope, 3, c.WKb, c.WVb, c.Scale, o, new float[3 + 3])));
        Assert.Equal("scale", Name(() => MlaAttention.DecodeAbsorbed(c.S, c.QNope, c.QRope, c.Latents, c.KRope, 3, c.WKb, c.WVb, float.NaN, o, scratch)));
        Assert.Equal("shape.Heads", Name(() => MlaAttention.DecodeAbsorbed(c.S with { Heads = 0 }, c.QNope, c.QRope, c.Latents, c.KRope, 3, c.WKb, c.WVb, c.Scale, o, scratch)));
        Assert.Equal("shape.Rank", Name(() => MlaAttention.CacheBytesPerToken(c.S with { Rank = -1 }, 2)));
        Assert.Equal("shape.RopeDim", Name(() => MlaAttention.NaiveCacheBytesPerToken(c.S with { RopeDim = -1 }, 2)));
        Assert.Equal("bytesPerElement", Name(() => MlaAttention.CacheBytesPerToken(c.S, 0)));
        Assert.Equal("kvB", Name(() => MlaAttention.SplitKvB(c.S, new float[10], new float[64], new float[64])));
        Assert.Equal("wVb", Name(() => MlaAttention.MergeKvB(c.S, new float[64], new float[63], new float[128])));
        Assert.Equal("attnKb", Name(() => MlaAttention.KbFromGguf(c.S, new float[63], new float[64])));
    }
}
