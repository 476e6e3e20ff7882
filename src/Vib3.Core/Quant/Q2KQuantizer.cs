namespace Vib3.Core.Quant;

/// <summary>Writes <see cref="Q2K"/> blocks as ggml's quantize_row_q2_K_ref does: each sub-block of 16 gets a scale
/// and a min (<see cref="AsymmetricSubBlocks"/>: quants 0…3, weights |x|, absolute error); scales and mins are
/// each stored as 4 bits against their largest /15, and every value re-quantised against what it will decode with.
/// </summary>
public sealed class Q2KQuantizer : IBlockQuantizer
{
    public static int BlockValues => Q2K.BlockValues;
    public static int BlockBytes => Q2K.BlockBytes;

    private const int SubBlocks = 16;
    private const int SubBlockValues = 16;
    private const int QuantsOffset = 16;
    private const int DOffset = 80;
    private const int DMinOffset = 82;
    private const float Levels4 = 15f;

    public static void QuantizeBlock(ReadOnlySpan<float> x, Span<byte> block)
    {
        Span<byte> levels = stackalloc byte[BlockValues];
        Span<float> scales = stackalloc float[SubBlocks];
        Span<float> mins = stackalloc float[SubBlocks];
        var (maxScale, maxMin) = AsymmetricSubBlocks.Search(x, SubBlockValues, 3, rmin: -0.5f, steps: 15, absoluteError: true, rmsWeights: false,
            scales, mins, levels);

        block.Clear();
        var packed = block[..SubBlocks];
        if (maxScale > 0)
        {
            var iscale = Levels4 / maxScale;
            for (var s = 0; s < SubBlocks; s++) packed[s] = (byte)ScaleSearch.NearestInt(iscale * scales[s]);
            HalfField.Write(block, DOffset, maxScale / Levels4);
        }
        else
        {
            HalfField.Write(block, DOffset, 0f);
        }
        if (maxMin > 0)
        {
            var iscale = Levels4 / maxMin;
            for (var s = 0; s < SubBlocks; s++) packed[s] |= (byte)(ScaleSearch.NearestInt(iscale * mins[s]) << 4);
            HalfField.Write(block, DMinOffset, maxMin / Levels4);
        }
        else
        {
            HalfField.Write(block, DMinOffset, 0f);
        }

        var d = HalfField.Read(block, DOffset);
        var dmin = HalfField.Read(block, DMinOffset);
        for (var s = 0; s < SubBlocks; s++)
            AsymmetricSubBlocks.Requantize(x.Slice(SubBlockValues * s, SubBlockValues), d * (packed[s] & 0xF), dmin * (packed[s] >> 4), 3,
                levels.Slice(SubBlockValues * s, SubBlockValues));
        TwoBitQuants.Pack<byte>(levels, block.Slice(QuantsOffset, 64));
    }
}
