using System.Buffers.Binary;

namespace Vib3.Core.Quant;

/// <summary>
/// ggml's IQ3_XXS: 256 values in 98 bytes (3.0625 bits per weight), eight sub-blocks of 32, symmetric.
/// Bytes 0–1: d (f16); 2–65: the <see cref="IQGrids.IQ3XXS"/> row of each group of 4 values, in order;
/// 66–97: per sub-block s a little-endian u32 at 66 + 4s whose bits 7l…7l+6 are the seven sign bits of its values
/// 8l…8l+7 (the eighth by even parity) and bits 28–31 the scale s₄. Value = d·(0.5 + s₄)·0.5 · ±grid.
/// </summary>
public sealed class IQ3XXS : IBlockFormat
{
    public static string Name => "iq3_xxs";
    public static int BlockValues => 256;
    public static int BlockBytes => 98;
    public static int SubBlockValues => 32;
    public static ReadOnlySpan<int> HalfOffsets => [0];

    public static void Unpack(ReadOnlySpan<byte> block, Span<sbyte> quants, Span<float> scales, Span<float> mins)
    {
        var d = (float)BlockRow.ReadHalf(block, 0);
        var grid = IQGrids.IQ3XXS;
        for (var s = 0; s < 8; s++)
        {
            var signsAndScale = BinaryPrimitives.ReadUInt32LittleEndian(block[(66 + 4 * s)..]);
            scales[s] = d * (0.5f + (signsAndScale >> 28)) * 0.5f;
            mins[s] = 0;
            for (var l = 0; l < 4; l++)
            {
                var signs = IQLattice.EvenParitySigns((int)(signsAndScale >> (7 * l)) & 127);
                var group = 8 * s + 2 * l;
                IQLattice.Signed4(grid[block[2 + group]], signs, 0, quants.Slice(4 * group, 4));
                IQLattice.Signed4(grid[block[3 + group]], signs, 4, quants.Slice(4 * group + 4, 4));
            }
        }
    }
}
