using System.Buffers.Binary;

namespace Vib3.Core.Quant;

/// <summary>
/// ggml's IQ2_XS: 256 values in 74 bytes (2.3125 bits per weight), sixteen sub-blocks of 16, symmetric.
/// Bytes 0–1: d (f16). Bytes 2–65: 32 little-endian u16, one per group of 8 values: bits 0–8 its
/// <see cref="IQGrids.IQ2XS"/> row, bits 9–15 its seven sign bits (the eighth by even parity). Bytes 66–73: one byte
/// per 32 values, the scale s₄ of its first 16 values in the low nibble and of the next 16 in the high nibble.
/// Value = d·(0.5 + s₄)·0.25 · ±grid.
/// </summary>
public sealed class IQ2XS : IBlockFormat
{
    public static string Name => "iq2_xs";
    public static int BlockValues => 256;
    public static int BlockBytes => 74;
    public static int SubBlockValues => 16;
    public static ReadOnlySpan<int> HalfOffsets => [0];

    public static void Unpack(ReadOnlySpan<byte> block, Span<sbyte> quants, Span<float> scales, Span<float> mins)
    {
        var d = (float)BlockRow.ReadHalf(block, 0);
        var grid = IQGrids.IQ2XS;
        for (var s = 0; s < 16; s++)
        {
            scales[s] = d * (0.5f + ((block[66 + s / 2] >> (4 * (s % 2))) & 0xF)) * 0.25f;
            mins[s] = 0;
        }
        for (var g = 0; g < 32; g++)
        {
            var packed = BinaryPrimitives.ReadUInt16LittleEndian(block[(2 + 2 * g)..]);
            IQLattice.Signed8(grid[packed & 511], IQLattice.EvenParitySigns(packed >> 9), quants.Slice(8 * g, 8));
        }
    }
}
