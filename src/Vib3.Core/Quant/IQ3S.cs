namespace Vib3.Core.Quant;

/// <summary>
/// ggml's IQ3_S: 256 values in 110 bytes (3.4375 bits per weight), eight sub-blocks of 32, symmetric.
/// Bytes 0–1: d (f16); 2–65: the low 8 bits of the <see cref="IQGrids.IQ3S"/> row of each group of 4 values;
/// 66–73: per sub-block s, bit k of byte 66 + s is the ninth bit of the row of its group k (k in 0…7);
/// 74–105: one sign byte per 8 values (bit j negates value j); 106–109: the scale s₄ of sub-block s in the low
/// (s even) or high (s odd) nibble of byte 106 + s/2. Value = d·(1 + 2·s₄) · ±grid.
/// </summary>
public sealed class IQ3S : IBlockFormat
{
    public static string Name => "iq3_s";
    public static int BlockValues => 256;
    public static int BlockBytes => 110;
    public static int SubBlockValues => 32;
    public static ReadOnlySpan<int> HalfOffsets => [0];

    public static void Unpack(ReadOnlySpan<byte> block, Span<sbyte> quants, Span<float> scales, Span<float> mins)
    {
        var d = (float)BlockRow.ReadHalf(block, 0);
        var grid = IQGrids.IQ3S;
        for (var s = 0; s < 8; s++)
        {
            scales[s] = d * (1 + 2 * ((block[106 + s / 2] >> (4 * (s % 2))) & 0xF));
            mins[s] = 0;
            for (var k = 0; k < 8; k++)
            {
                var group = 8 * s + k;
                var row = block[2 + group] | ((block[66 + s] >> k) & 1) << 8;
                IQLattice.Signed4(grid[row], block[74 + group / 2], 4 * (k % 2), quants.Slice(4 * group, 4));
            }
        }
    }
}
