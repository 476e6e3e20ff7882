namespace Vib3.Core.Quant;

/// <summary>
/// ggml's Q2_K: 256 values in 84 bytes (2.625 bits per weight), sixteen sub-blocks of 16, asymmetric.
/// Bytes 0–15: one byte per sub-block, scale in the low nibble and min in the high nibble; 16–79: qs, 2-bit quants;
/// 80–81: d (f16, scale of the scales); 82–83: dmin (f16, scale of the mins).
/// Value p = 128h + 32j + l (h in 0…1, j in 0…3, l in 0…31) is bits 2j…2j+1 of qs[32h + l].
/// Value = d·scale·q − dmin·min with q in 0…3.
/// </summary>
public sealed class Q2K : IBlockFormat
{
    public static string Name => "q2_K";
    public static int BlockValues => 256;
    public static int BlockBytes => 84;
    public static int SubBlockValues => 16;
    public static ReadOnlySpan<int> HalfOffsets => [80, 82];

    public static void Unpack(ReadOnlySpan<byte> block, Span<sbyte> quants, Span<float> scales, Span<float> mins)
    {
        var d = (float)BlockRow.ReadHalf(block, 80);
        var dmin = (float)BlockRow.ReadHalf(block, 82);
        for (var s = 0; s < 16; s++)
        {
            scales[s] = d * (block[s] & 0xF);
            mins[s] = dmin * (block[s] >> 4);
        }
        var qs = block.Slice(16, 64);
        for (var p = 0; p < 256; p++)
            quants[p] = (sbyte)((qs[32 * (p / 128) + p % 32] >> (2 * (p % 128 / 32))) & 3);
    }
}
