namespace Vib3.Core.Quant;

/// <summary>
/// ggml's Q5_K: 256 values in 176 bytes (5.5 bits per weight), eight sub-blocks of 32, asymmetric.
/// Bytes 0–1: d (f16); 2–3: dmin (f16); 4–15: eight 6-bit scales and mins (<see cref="PackedScales6"/>);
/// 16–47: qh, the fifth bit of each value — bit s of qh[l] belongs to value 32s+l; 48–175: the low 4 bits, laid out
/// as Q4_K's quants (group g: values 64g+l in low nibbles, 64g+32+l in high nibbles).
/// Value = d·scale·q − dmin·min with q in 0…31.
/// </summary>
public sealed class Q5K : IBlockFormat
{
    private const int HighBitsOffset = 16;
    private const int QuantsOffset = 48;

    public static string Name => "q5_K";
    public static int BlockValues => 256;
    public static int BlockBytes => 176;
    public static int SubBlockValues => 32;
    public static ReadOnlySpan<int> HalfOffsets => [0, 2];

    public static void Unpack(ReadOnlySpan<byte> block, Span<sbyte> quants, Span<float> scales, Span<float> mins)
    {
        Q4K.Unpack(block, QuantsOffset, quants, scales, mins);
        var qh = block.Slice(HighBitsOffset, 32);
        for (var p = 0; p < BlockValues; p++)
            quants[p] |= (sbyte)(((qh[p % 32] >> (p / 32)) & 1) << 4);
    }
}
