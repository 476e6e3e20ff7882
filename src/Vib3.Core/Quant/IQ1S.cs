using System.Buffers.Binary;

namespace Vib3.Core.Quant;

/// <summary>
/// ggml's IQ1_S: 256 values in 50 bytes (1.5625 bits per weight), eight sub-blocks of 32, symmetric.
/// Bytes 0–1: d (f16); 2–33: the low 8 bits of the <see cref="IQGrids.IQ1S"/> row (values −1, 0, +1) of each group
/// of 8 values; 34–49: per sub-block s a little-endian u16 at 34 + 2s: bits 3l…3l+2 the top 3 bits of its group l's
/// row, bits 12–14 the scale s₃, bit 15 the sign of the shift δ = ±1/8. Value = d·(2·s₃ + 1)·(grid + δ), reported as
/// scale d·(2·s₃ + 1)/8 times the integer 8·grid ± 1 (exact: <see cref="IQLattice.Shifted8"/>).
/// </summary>
public sealed class IQ1S : IBlockFormat
{
    public static string Name => "iq1_s";
    public static int BlockValues => 256;
    public static int BlockBytes => 50;
    public static int SubBlockValues => 32;
    public static ReadOnlySpan<int> HalfOffsets => [0];

    public static void Unpack(ReadOnlySpan<byte> block, Span<sbyte> quants, Span<float> scales, Span<float> mins)
    {
        var d = (float)BlockRow.ReadHalf(block, 0);
        var grid = IQGrids.IQ1S;
        for (var s = 0; s < 8; s++)
        {
            var high = BinaryPrimitives.ReadUInt16LittleEndian(block[(34 + 2 * s)..]);
            scales[s] = IQLattice.ShiftedScale(d, (high >> 12) & 7);
            mins[s] = 0;
            for (var l = 0; l < 4; l++)
            {
                var row = block[2 + 4 * s + l] | ((high >> (3 * l)) & 7) << 8;
                IQLattice.Shifted8(grid[row], (high & 0x8000) != 0, quants.Slice(32 * s + 8 * l, 8));
            }
        }
    }
}
