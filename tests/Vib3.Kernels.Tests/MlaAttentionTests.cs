
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

    /// <summary>AttendLatents against plain double arithmetic: causal visibility per query (1, inside the first tile, its
    /// edge, past it, all), 300 positions (two tiles of 256), odd widths, blocks of queries.</summary>
    [Theory]
    [InlineData(5, 3)]
    [InlineData(16, 8)]
    public void AttendLatents_MatchesScalarAttentionAcrossTilesAndVisibility(int rank, int ropeDim)
    {
        const int positions = 300;
        int[] visible = [1, 44, 256, 257, 300, 300];
        var w = rank + ropeDim;
        var rng = new Random(rank);
        var cache = TestData.Floats(rng, positions * w);
        var queries = TestData.Floats(rng, visible.Length * w);
        const float scale = 0.3f;
        var output = new float[visible.Length * rank];
        MlaAttention.AttendLatents(cache, positions, rank, ropeDim, queries, visible.Length, visible, scale, output);
        for (var i = 0; i < visible.Length; i++)
        {
            var scores = new double[visible[i]];
            for (var t = 0; t < visible[i]; t++)
            {
                double dot = 0;
                for (var k = 0; k < w; k++) dot += (double)queries[i * w + k] * cache[t * w + k];
                scores[t] = dot * scale;
            }
            var max = scores.Max();
            var sum = scores.Sum(x => Math.Exp(x - max));
            for (var l = 0; l < rank; l++)
            {
                double o = 0;
                for (var t = 0; t < visible[i]; t++) o += Math.Exp(scores[t] - max) / sum * cache[t * w + l];
                Assert.True(Math.Abs(o - output[i * rank + l]) <= 1e-5 * Math.Max(1, Math.Abs(o)),
                    $"query {i} (sees {visible[i]}), dim {l}: {output[i * rank + l]} vs {o}");
            }
        }
    }

    [Fact]
    public void AttendLatents_NamesWhatIsWrong()
    {
        var cache = new float[4 * 3];
        var q = new float[2 * 3];
        var o = new float[2 * 2];
        Assert.Equal("visible", Assert.ThrowsAny<ArgumentException>(() => MlaAttention.AttendLatents(cache, 4, 2, 1, q, 2, [1, 5], 1f, o)).ParamName);
        Assert.Equal("visible", Assert.ThrowsAny<ArgumentException>(() => MlaAttention.AttendLatents(cache, 4, 2, 1, q, 2, [1], 1f, o)).ParamName);
        Assert.Equal("cache", Assert.ThrowsAny<ArgumentException>(() => MlaAttention.AttendLatents(cache[1..], 4, 2, 1, q, 2, [1, 1], 1f, o)).ParamName);
        Assert.Equal("output", Assert.ThrowsAny<ArgumentException>(() => MlaAttention.AttendLatents(cache, 4, 2, 1, q, 2, [1, 1], 1f, o[1..])).ParamName);
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
        Assert.Equal("shape.Rank", Name(() => MlaAttention.Reference(c.S with { Rank = -1 }, c.QNope, c.QRope, c.Latents, c.KRope, 3, c.WKb, c.WVb, c.Scale, o, scratch)));
        Assert.Equal("shape.RopeDim", Name(() => MlaAttention.Reference(c.S with { RopeDim = -1 }, c.QNope, c.QRope, c.Latents, c.KRope, 3, c.WKb, c.WVb, c.Scale, o, scratch)));
    }
}
