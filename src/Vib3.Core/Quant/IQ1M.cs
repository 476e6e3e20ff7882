using System.Buffers.Binary;

namespace Vib3.Core.Quant;

/// <summary>
/// ggml's IQ1_M: 256 values in 56 bytes (1.75 bits per weight), sixteen sub-blocks of 16, symmetric, and no whole
/// f16 field: the super-scale d is spread over the top nibbles of the four scale words.
/// Bytes 0–31: the low 8 bits of the <see cref="IQGrids.IQ1S"/> row of each group of 8 values; 32–47: one byte per
/// two groups g, g+1 (g even, byte 32 + g/2): bits 0–2 the top 3 bits of g's row, bit 3 the sign of g's shift δ = ±1/8,
/// bits 4–6 and 7 the same for g+1; 48–55: four little-endian u16 scale words w₀…w₃: bits 3k…3k+2 of w_(s/4) (k = s%4)
/// are sub-block s's scale s₃, and bits 12–15 of w_i are bits 4i…4i+3 of d's f16.
/// Value = d·(2·s₃ + 1)·(grid + δ), with δ per 8 values inside a 16-value sub-block; reported as scale
/// d·(2·s₃ + 1)/8 times the integer 8·grid ± 1, so the shift needs no per-8 min (exact: <see cref="IQLattice.Shifted8"/>).
/// </summary>
public sealed class IQ1M : IBlockFormat
{
    public static string Name => "iq1_m";
    public static int BlockValues => 256;
    public static int BlockBytes => 56;
    public static int SubBlockValues => 16;
    public static ReadOnlySpan<int> HalfOffsets => [];

    public static Half? ScatteredHalf(ReadOnlySpan<byte> block) => SuperScale(block);

    public static void Unpack(ReadOnlySpan<byte> block, Span<sbyte> quants, Span<float> scales, Span<float> mins)
    {
        var d = (float)SuperScale(block);
        for (var s = 0; s < 16; s++)
        {
            scales[s] = IQLattice.ShiftedScale(d, (ScaleWord(block, s / 4) >> (3 * (s % 4))) & 7);
            mins[s] = 0;
        }
        var grid = IQGrids.IQ1S;
        for (var g = 0; g < 32; g++)
        {
            var high = block[32 + g / 2] >> (4 * (g % 2));
            IQLattice.Shifted8(grid[block[g] | (high & 7) << 8], (high & 8) != 0, quants.Slice(8 * g, 8));
        }
    }

    /// <summary>d: the top nibble of scale word i is bits 4i…4i+3 of its f16.</summary>
    private static Half SuperScale(ReadOnlySpan<byte> block)
    {
        var bits = 0;
        for (var i = 0; i < 4; i++) bits |= (ScaleWord(block, i) >> 12) << (4 * i);
        return BitConverter.UInt16BitsToHalf((ushort)bits);
    }

    private static int ScaleWord(ReadOnlySpan<byte> block, int i) => BinaryPrimitives.ReadUInt16LittleEndian(block[(48 + 2 * i)..]);
}
