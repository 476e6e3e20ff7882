namespace Vib3.Core.Quant;

/// <summary>
/// ggml's TQ2_0 (ternary): 256 values in 66 bytes (2.0625 bits per weight), one scale.
/// Bytes 0–63: qs, 2-bit codes 0…2 standing for −1, 0, +1 (3 decodes to +2); 64–65: d (f16).
/// Value p = 128h + 32j + l (h in 0…1, j in 0…3, l in 0…31) is bits 2j…2j+1 of qs[32h + l], as in Q2_K.
/// Value = d·(code − 1).
/// </summary>
public sealed class TQ2_0 : IBlockFormat
{
    public static string Name => "tq2_0";
    public static int BlockValues => 256;
    public static int BlockBytes => 66;
    public static int SubBlockValues => 256;
    public static ReadOnlySpan<int> HalfOffsets => [64];

    public static void Unpack(ReadOnlySpan<byte> block, Span<sbyte> quants, Span<float> scales, Span<float> mins)
    {
        scales[0] = (float)BlockRow.ReadHalf(block, 64);
        mins[0] = 0;
        for (var p = 0; p < 256; p++)
            quants[p] = (sbyte)(((block[32 * (p / 128) + p % 32] >> (2 * (p % 128 / 32))) & 3) - 1);
    }
}
