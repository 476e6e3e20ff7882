namespace Vib3.Core.Quant;

/// <summary>
/// ggml's Q4_K: 256 values in 144 bytes (4.5 bits per weight), eight sub-blocks of 32, asymmetric.
/// Bytes 0–1: d (f16, scale of the sub-block scales); 2–3: dmin (f16, scale of the sub-block mins);
/// 4–15: eight 6-bit scales and eight 6-bit mins (<see cref="PackedScales6"/>); 16–143: 4-bit quants, in four
/// 32-byte groups — group g holds values 64g…64g+31 in its low nibbles and 64g+32…64g+63 in its high nibbles.
/// Value = d·scale·q − dmin·min.
/// </summary>
public sealed class Q4K : IBlockFormat
{
    private const int QuantsOffset = 16;

    public static string Name => "q4_K";
    public static int BlockValues => 256;
    public static int BlockBytes => 144;
    public static int SubBlockValues => 32;
    public static ReadOnlySpan<int> HalfOffsets => [0, 2];

    public static void Unpack(ReadOnlySpan<byte> block, Span<sbyte> quants, Span<float> scales, Span<float> mins) =>
        Unpack(block, QuantsOffset, quants, scales, mins);

    /// <summary>The header (d, dmin, the 6-bit table) and the nibble groups starting at <paramref name="quantsOffset"/>:
    /// Q4_K's block, or the low four bits of Q5_K's (which start at 48).</summary>
    internal static void Unpack(ReadOnlySpan<byte> block, int quantsOffset, Span<sbyte> quants, Span<float> scales, Span<float> mins)
    {
        var d = (float)BlockRow.ReadHalf(block, 0);
        var dmin = (float)BlockRow.ReadHalf(block, 2);
        var table = block.Slice(4, PackedScales6.Bytes);
        var qs = block[quantsOffset..];
        for (var g = 0; g < 4; g++)
        {
            for (var half = 0; half < 2; half++)
            {
                var s = 2 * g + half;
                var (scale, min) = PackedScales6.Get(table, s);
                scales[s] = d * scale;
                mins[s] = dmin * min;
                for (var l = 0; l < 32; l++)
                    quants[32 * s + l] = (sbyte)((qs[32 * g + l] >> (4 * half)) & 0xF);
            }
        }
    }
}
