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
    public static string Name => "q5_K";
    public static int BlockValues => 256;
    public static int BlockBytes => 176;
    public static int SubBlockValues => 32;
    public static ReadOnlySpan<int> HalfOffsets => [0, 2];

    public static void Unpack(ReadOnlySpan<byte> block, Span<sbyte> quants, Span<float> scales, Span<float> mins)
    {
        var d = (float)BlockRow.ReadHalf(block, 0);
        var dmin = (float)BlockRow.ReadHalf(block, 2);
        var table = block.Slice(4, PackedScales6.Bytes);
        var qh = block.Slice(16, 32);
        var qs = block[48..];
        for (var g = 0; g < 4; g++)
        {
            for (var half = 0; half < 2; half++)
            {
                var s = 2 * g + half;
                var (scale, min) = PackedScales6.Get(table, s);
                scales[s] = d * scale;
                mins[s] = dmin * min;
                for (var l = 0; l < 32; l++)
                    quants[32 * s + l] = (sbyte)(((qs[32 * g + l] >> (4 * half)) & 0xF) | (((qh[l] >> s) & 1) << 4));
            }
        }
    }
}
