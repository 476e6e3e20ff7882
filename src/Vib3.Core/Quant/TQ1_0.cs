namespace Vib3.Core.Quant;

/// <summary>
/// ggml's TQ1_0 (ternary, base-3 packed): 256 values in 54 bytes (1.6875 bits per weight), one scale.
/// Bytes 0–47: qs, five ternary digits per byte; 48–51: qh, four digits per byte; 52–53: d (f16).
/// A byte holds its digits as a fixed-point fraction: digit n (most significant first) is
/// ⌊3·(byte·3ⁿ mod 256) / 256⌋, in 0…2 for −1, 0, +1.
/// Output order: values 32n+m (n in 0…4, m in 0…31) are digit n of qs[m]; values 160+16n+m (m in 0…15) digit n of
/// qs[32+m]; values 240+4n+j (n, j in 0…3) digit n of qh[j]. Value = d·(digit − 1).
/// </summary>
public sealed class TQ1_0 : IBlockFormat
{
    public static string Name => "tq1_0";
    public static int BlockValues => 256;
    public static int BlockBytes => 54;
    public static int SubBlockValues => 256;
    public static ReadOnlySpan<int> HalfOffsets => [52];

    public static void Unpack(ReadOnlySpan<byte> block, Span<sbyte> quants, Span<float> scales, Span<float> mins)
    {
        scales[0] = (float)BlockRow.ReadHalf(block, 52);
        mins[0] = 0;
        for (var n = 0; n < 5; n++)
        {
            for (var m = 0; m < 32; m++) quants[32 * n + m] = Digit(block[m], n);
            for (var m = 0; m < 16; m++) quants[160 + 16 * n + m] = Digit(block[32 + m], n);
        }
        for (var n = 0; n < 4; n++)
            for (var j = 0; j < 4; j++) quants[240 + 4 * n + j] = Digit(block[48 + j], n);
    }

    /// <summary>Ternary digit <paramref name="n"/> of a packed byte, minus one.</summary>
    private static sbyte Digit(byte packed, int n)
    {
        var shifted = (byte)(packed * PowersOfThree[n]);
        return (sbyte)((shifted * 3 >> 8) - 1);
    }

    private static ReadOnlySpan<byte> PowersOfThree => [1, 3, 9, 27, 81];
}
