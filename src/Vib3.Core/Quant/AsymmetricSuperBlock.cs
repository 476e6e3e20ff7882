namespace Vib3.Core.Quant;

/// <summary>
/// The part of ggml's Q4_K and Q5_K quantizers they share (quantize_row_q4_K_ref / q5_K_ref): eight sub-blocks of 32,
/// each given a scale and a min (<see cref="AsymmetricSubBlocks"/>) with weights |x| + rms(sub-block); the scales
/// and the mins are then each quantised to 6 bits against their largest (d = max/63, dmin = max min/63, stored f16),
/// and every value is re-quantised against the scale and min it will actually be decoded with.
/// </summary>
internal static class AsymmetricSuperBlock
{
    public const int Values = 256;
    public const int SubBlocks = 8;
    public const int SubBlockValues = 32;

    /// <summary>Offset of the packed 6-bit scale table, after d and dmin.</summary>
    private const int ScalesOffset = 4;

    /// <summary>Writes d, dmin and the scale table (bytes 0–15 of <paramref name="block"/>) and leaves each value's
    /// quant, 0…<paramref name="nmax"/>, in <paramref name="levels"/>.</summary>
    public static void Quantize(ReadOnlySpan<float> x, int nmax, float rmin, int steps, Span<byte> block, Span<byte> levels)
    {
        Span<float> scales = stackalloc float[SubBlocks];
        Span<float> mins = stackalloc float[SubBlocks];
        var (maxScale, maxMin) = AsymmetricSubBlocks.Search(x, SubBlockValues, nmax, rmin, steps, absoluteError: false, rmsWeights: true,
            scales, mins, levels);

        var table = block.Slice(ScalesOffset, PackedScales6.Bytes);
        table.Clear();
        var inverseScale = maxScale > 0 ? 63f / maxScale : 0f;
        var inverseMin = maxMin > 0 ? 63f / maxMin : 0f;
        for (var j = 0; j < SubBlocks; j++)
        {
            // ggml stores nearest_int's result in a byte before clamping, so a negative one wraps and clamps to 63.
            var ls = Math.Min((byte)63, (byte)ScaleSearch.NearestInt(inverseScale * scales[j]));
            var lm = Math.Min((byte)63, (byte)ScaleSearch.NearestInt(inverseMin * mins[j]));
            PackedScales6.Set(table, j, ls, lm);
        }
        HalfField.Write(block, 0, maxScale / 63f);
        HalfField.Write(block, 2, maxMin / 63f);

        var d = HalfField.Read(block, 0);
        var dmin = HalfField.Read(block, 2);
        for (var j = 0; j < SubBlocks; j++)
        {
            var (sc, m) = PackedScales6.Get(table, j);
            AsymmetricSubBlocks.Requantize(x.Slice(SubBlockValues * j, SubBlockValues), d * sc, dmin * m, nmax,
                levels.Slice(SubBlockValues * j, SubBlockValues));
        }
    }
}
