using System.Buffers.Binary;

namespace Vib3.Core.Quant;

/// <summary>
/// ggml's IQ2_XXS: 256 values in 66 bytes (2.0625 bits per weight), eight sub-blocks of 32, symmetric.
/// Bytes 0–1: d (f16). Bytes 2–65: eight 8-byte records, one per sub-block s, at 2 + 8s: bytes 0–3 are the
/// <see cref="IQGrids.IQ2XXS"/> rows of its four groups of 8 values; bytes 4–7 a little-endian u32 whose bits
/// 7l…7l+6 are group l's seven sign bits (the eighth by even parity, <see cref="IQLattice.EvenParitySigns"/>) and
/// bits 28–31 the sub-block scale s₄. Value = d·(0.5 + s₄)·0.25 · ±grid.
/// </summary>
public sealed class IQ2XXS : IBlockFormat
{
    public static string Name => "iq2_xxs";
    public static int BlockValues => 256;
    public static int BlockBytes => 66;
    public static int SubBlockValues => 32;
    public static ReadOnlySpan<int> HalfOffsets => [0];

    public static void Unpack(ReadOnlySpan<byte> block, Span<sbyte> quants, Span<float> scales, Span<float> mins)
    {
        var d = (float)BlockRow.ReadHalf(block, 0);
        var grid = IQGrids.IQ2XXS;
        for (var s = 0; s < 8; s++)
        {
            var record = block.Slice(2 + 8 * s, 8);
            var signsAndScale = BinaryPrimitives.ReadUInt32LittleEndian(record[4..]);
            scales[s] = d * (0.5f + (signsAndScale >> 28)) * 0.25f;
            mins[s] = 0;
            for (var l = 0; l < 4; l++)
            {
                var signs = IQLattice.EvenParitySigns((int)(signsAndScale >> (7 * l)) & 127);
                IQLattice.Signed8(grid[record[l]], signs, quants.Slice(32 * s + 8 * l, 8));
            }
        }
    }
}
