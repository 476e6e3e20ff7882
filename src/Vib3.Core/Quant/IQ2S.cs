namespace Vib3.Core.Quant;

/// <summary>
/// ggml's IQ2_S: 256 values in 82 bytes (2.5625 bits per weight), sixteen sub-blocks of 16, symmetric.
/// Bytes 0–1: d (f16); 2–33: the low 8 bits of the <see cref="IQGrids.IQ2S"/> row of each group of 8 values;
/// 34–65: one sign byte per group (bit j negates value j; all 8 stored); 66–73: per 32 values, the top 2 bits of the
/// row of its group l at bits 2l…2l+1; 74–81: per 32 values, the scale s₄ of its first 16 values in the low nibble
/// and of the next 16 in the high nibble. Value = d·(0.5 + s₄)·0.25 · ±grid.
/// </summary>
public sealed class IQ2S : IBlockFormat
{
    public static string Name => "iq2_s";
    public static int BlockValues => 256;
    public static int BlockBytes => 82;
    public static int SubBlockValues => 16;
    public static ReadOnlySpan<int> HalfOffsets => [0];

    public static void Unpack(ReadOnlySpan<byte> block, Span<sbyte> quants, Span<float> scales, Span<float> mins)
    {
        var d = (float)BlockRow.ReadHalf(block, 0);
        var grid = IQGrids.IQ2S;
        for (var s = 0; s < 16; s++)
        {
            scales[s] = d * (0.5f + ((block[74 + s / 2] >> (4 * (s % 2))) & 0xF)) * 0.25f;
            mins[s] = 0;
        }
        for (var g = 0; g < 32; g++)
        {
            var high = (block[66 + g / 4] >> (2 * (g % 4))) & 3;
            IQLattice.Signed8(grid[block[2 + g] | high << 8], block[34 + g], quants.Slice(8 * g, 8));
        }
    }
}
