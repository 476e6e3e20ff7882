namespace Vib3.Core.Quant;

/// <summary>
/// The sub-block steps of ggml's asymmetric K-quant quantizers (quantize_row_q2_K_ref, q4_K_ref, q5_K_ref): each
/// sub-block's scale and min from <see cref="ScaleSearch.Asymmetric"/>, and, once the scales and mins are stored,
/// every value re-quantised against the scale and min it will actually be decoded with.
/// </summary>
internal static class AsymmetricSubBlocks
{
    /// <summary>The scale and min of each of the <paramref name="scales"/>.Length sub-blocks of
    /// <paramref name="subBlockValues"/> values (the search's levels left in <paramref name="levels"/>), weighting
    /// each value by |x|, plus the sub-block's rms where <paramref name="rmsWeights"/> (Q4_K, Q5_K). Returns the
    /// largest scale and the largest min.</summary>
    public static (float MaxScale, float MaxMin) Search(ReadOnlySpan<float> x, int subBlockValues, int nmax, float rmin, int steps,
        bool absoluteError, bool rmsWeights, Span<float> scales, Span<float> mins, Span<byte> levels)
    {
        Span<float> weights = stackalloc float[subBlockValues];
        float maxScale = 0, maxMin = 0;
        for (var j = 0; j < scales.Length; j++)
        {
            var xs = x.Slice(subBlockValues * j, subBlockValues);
            if (rmsWeights)
            {
                var rms = RootMeanSquare(xs);
                for (var l = 0; l < subBlockValues; l++) weights[l] = rms + MathF.Abs(xs[l]);
            }
            else
            {
                for (var l = 0; l < subBlockValues; l++) weights[l] = MathF.Abs(xs[l]);
            }
            scales[j] = ScaleSearch.Asymmetric(xs, weights, nmax, levels.Slice(subBlockValues * j, subBlockValues),
                out mins[j], rmin, rdelta: 0.1f, steps, absoluteError);
            if (scales[j] > maxScale) maxScale = scales[j];
            if (mins[j] > maxMin) maxMin = mins[j];
        }
        return (maxScale, maxMin);
    }

    /// <summary>The levels of sub-block values <paramref name="xs"/> against the decoded scale <paramref name="ds"/>
    /// and min <paramref name="dm"/>, clamped to 0…<paramref name="nmax"/>; with <paramref name="ds"/> 0 the search's
    /// levels stay, as ggml leaves them.</summary>
    public static void Requantize(ReadOnlySpan<float> xs, float ds, float dm, int nmax, Span<byte> levels)
    {
        if (ds == 0) return;
        for (var i = 0; i < xs.Length; i++)
            levels[i] = (byte)Math.Clamp(ScaleSearch.NearestInt((xs[i] + dm) / ds), 0, nmax);
    }

    private static float RootMeanSquare(ReadOnlySpan<float> xs)
    {
        float sumX2 = 0;
        foreach (var v in xs) sumX2 += v * v;
        return MathF.Sqrt(sumX2 / xs.Length);
    }
}
