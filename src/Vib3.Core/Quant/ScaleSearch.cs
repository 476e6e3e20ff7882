namespace Vib3.Core.Quant;

/// <summary>
/// ggml's per-sub-block scale searches (make_qx_quants, make_q3_quants, make_qkx2_quants in ggml-quants.c, restated
/// here from their behaviour), which the K-quant quantizers run on each group of 16 or 32 values. Every expression
/// keeps ggml's f32 operand order — a product such as w·x·l is (w·x)·l, sums run left to right — because a different
/// order changes the last bit of a sum, which can flip a comparison and so a stored quant.
/// </summary>
internal static class ScaleSearch
{
    /// <summary>ggml's GROUP_MAX_EPS: a group whose largest magnitude is below it is stored as zeros.</summary>
    public const float GroupMaxEps = 1e-15f;

    /// <summary>Rounds to the nearest integer, ties to even, as ggml's nearest_int does: adding 1.5·2²³ leaves the
    /// rounded integer in the low mantissa bits (exact for |f| ≤ 2²²−1; outside that, the same bits ggml gets).</summary>
    public static int NearestInt(float f) =>
        (BitConverter.SingleToInt32Bits(f + 12582912f) & 0x007fffff) - 0x00400000;

    /// <summary>The value of largest magnitude in <paramref name="x"/> (the first one on ties), and that magnitude.</summary>
    public static (float Max, float AbsMax) SignedAbsMax(ReadOnlySpan<float> x)
    {
        float max = 0, amax = 0;
        foreach (var v in x)
        {
            var ax = MathF.Abs(v);
            if (ax > amax) { amax = ax; max = v; }
        }
        return (max, amax);
    }

    /// <summary>
    /// Symmetric scale for a group, weighted by x² (make_qx_quants with rmse_type 1 and no importance weights): quants
    /// l in −nmax…nmax−1 are stored in <paramref name="levels"/> as l + nmax; starting from the scale that maps the
    /// largest-magnitude value to −nmax, it tries 18 nearby scales and keeps the one whose least-squares fit is best.
    /// An all-(near-)zero group gets levels 0 and scale 0.
    /// </summary>
    public static float SymmetricWeighted(ReadOnlySpan<float> x, int nmax, Span<sbyte> levels)
    {
        var (max, amax) = SignedAbsMax(x);
        if (amax < GroupMaxEps)
        {
            levels[..x.Length].Clear();
            return 0f;
        }
        var iscale = -nmax / max;
        var (sumlx, suml2) = FitSums(x, nmax, iscale);
        for (var i = 0; i < x.Length; i++) levels[i] = (sbyte)(Math.Clamp(NearestInt(iscale * x[i]), -nmax, nmax - 1) + nmax);
        var scale = suml2 != 0 ? sumlx / suml2 : 0f;
        var best = scale * sumlx;
        for (var step = -9; step <= 9; step++)
        {
            if (step == 0) continue;
            iscale = -(nmax + 0.1f * step) / max;
            (sumlx, suml2) = FitSums(x, nmax, iscale);
            if (suml2 > 0 && sumlx * sumlx > best * suml2)
            {
                for (var i = 0; i < x.Length; i++) levels[i] = (sbyte)(nmax + Math.Clamp(NearestInt(iscale * x[i]), -nmax, nmax - 1));
                scale = sumlx / suml2;
                best = scale * sumlx;
            }
        }
        return scale;
    }

    private static (float SumLx, float SumL2) FitSums(ReadOnlySpan<float> x, int nmax, float iscale)
    {
        float sumlx = 0, suml2 = 0;
        foreach (var v in x)
        {
            var l = Math.Clamp(NearestInt(iscale * v), -nmax, nmax - 1);
            var w = v * v;
            sumlx += w * v * l;
            suml2 += w * l * l;
        }
        return (sumlx, suml2);
    }

    /// <summary>
    /// Symmetric scale for a Q3_K group (make_q3_quants with its refinement on): quants l in −nmax…nmax−1, first from
    /// the scale mapping the largest magnitude to −nmax, then up to five passes that move one quant at a time to the
    /// level its neighbours' least-squares scale prefers when that improves the x²-weighted fit. Levels are stored as
    /// l + nmax; an all-(near-)zero group gets levels 0 and scale 0.
    /// </summary>
    public static float SymmetricRefined(ReadOnlySpan<float> x, int nmax, Span<sbyte> levels)
    {
        var (max, amax) = SignedAbsMax(x);
        if (amax < GroupMaxEps)
        {
            levels[..x.Length].Clear();
            return 0f;
        }
        var iscale = -nmax / max;
        float sumlx = 0, suml2 = 0;
        for (var i = 0; i < x.Length; i++)
        {
            var l = Math.Clamp(NearestInt(iscale * x[i]), -nmax, nmax - 1);
            levels[i] = (sbyte)l;
            var w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        const int passes = 5;
        for (var pass = 0; pass < passes; pass++)
        {
            var changed = 0;
            for (var i = 0; i < x.Length; i++)
            {
                var w = x[i] * x[i];
                var slx = sumlx - w * x[i] * levels[i];
                if (!(slx > 0)) continue;
                var sl2 = suml2 - w * levels[i] * levels[i];
                var newL = Math.Clamp(NearestInt(x[i] * sl2 / slx), -nmax, nmax - 1);
                if (newL == levels[i]) continue;
                slx += w * x[i] * newL;
                sl2 += w * newL * newL;
                if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2)
                {
                    levels[i] = (sbyte)newL;
                    sumlx = slx;
                    suml2 = sl2;
                    changed++;
                }
            }
            if (changed == 0) break;
        }
        for (var i = 0; i < x.Length; i++) levels[i] += (sbyte)nmax;
        return suml2 > 0 ? sumlx / suml2 : 0f;
    }

    /// <summary>
    /// Asymmetric scale and min for a group (make_qkx2_quants): quants l in 0…nmax with value ≈ scale·l − min, min ≥ 0
    /// (a group that is all positive uses min 0). Starting from the full range [min(x, 0), max(x)], it tries
    /// <paramref name="steps"/>+1 scales (nmax + rmin + rdelta·k over the range), fits scale and min by weighted least
    /// squares to each set of quants, and keeps the fit with the smallest weighted error (absolute when
    /// <paramref name="absoluteError"/>, else squared). Returns the scale; <paramref name="min"/> gets the min.
    /// </summary>
    public static float Asymmetric(ReadOnlySpan<float> x, ReadOnlySpan<float> weights, int nmax, Span<byte> levels,
        out float min, float rmin, float rdelta, int steps, bool absoluteError)
    {
        var n = x.Length;
        float lo = x[0], hi = x[0];
        var sumW = weights[0];
        var sumX = sumW * x[0];
        for (var i = 1; i < n; i++)
        {
            if (x[i] < lo) lo = x[i];
            if (x[i] > hi) hi = x[i];
            var w = weights[i];
            sumW += w;
            sumX += w * x[i];
        }
        if (lo > 0) lo = 0;
        if (hi == lo)
        {
            levels[..n].Clear();
            min = -lo;
            return 0f;
        }
        var iscale = nmax / (hi - lo);
        var scale = 1 / iscale;
        float bestError = 0;
        for (var i = 0; i < n; i++)
        {
            var l = Math.Clamp(NearestInt(iscale * (x[i] - lo)), 0, nmax);
            levels[i] = (byte)l;
            var diff = scale * levels[i] + lo - x[i];
            diff = absoluteError ? MathF.Abs(diff) : diff * diff;
            bestError += weights[i] * diff;
        }
        Span<byte> trial = stackalloc byte[n];
        for (var k = 0; k <= steps; k++)
        {
            iscale = (rmin + rdelta * k + nmax) / (hi - lo);
            float sumL = 0, sumL2 = 0, sumXL = 0;
            for (var i = 0; i < n; i++)
            {
                var l = Math.Clamp(NearestInt(iscale * (x[i] - lo)), 0, nmax);
                trial[i] = (byte)l;
                var w = weights[i];
                sumL += w * l;
                sumL2 += w * l * l;
                sumXL += w * l * x[i];
            }
            var det = sumW * sumL2 - sumL * sumL;
            if (!(det > 0)) continue;
            var thisScale = (sumW * sumXL - sumX * sumL) / det;
            var thisMin = (sumL2 * sumX - sumL * sumXL) / det;
            if (thisMin > 0)
            {
                thisMin = 0;
                thisScale = sumXL / sumL2;
            }
            float error = 0;
            for (var i = 0; i < n; i++)
            {
                var diff = thisScale * trial[i] + thisMin - x[i];
                diff = absoluteError ? MathF.Abs(diff) : diff * diff;
                error += weights[i] * diff;
            }
            if (error < bestError)
            {
                trial[..n].CopyTo(levels);
                bestError = error;
                scale = thisScale;
                lo = thisMin;
            }
        }
        min = -lo;
        return scale;
    }
}
