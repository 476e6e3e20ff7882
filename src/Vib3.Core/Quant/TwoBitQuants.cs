namespace Vib3.Core.Quant;

/// <summary>The 2-bit quant layout Q2_K and Q3_K share: in each half h of 128 values, byte 32h + l holds values
/// 128h + l, +32, +64, +96 in its bit pairs 0–1, 2–3, 4–5, 6–7.</summary>
internal static class TwoBitQuants
{
    /// <summary>Packs 256 levels (each 0…3) into 64 bytes.</summary>
    public static void Pack<T>(ReadOnlySpan<T> levels, Span<byte> qs) where T : System.Numerics.IBinaryInteger<T>
    {
        for (var h = 0; h < 2; h++)
            for (var l = 0; l < 32; l++)
            {
                var p = 128 * h + l;
                qs[32 * h + l] = (byte)(int.CreateTruncating(levels[p]) | (int.CreateTruncating(levels[p + 32]) << 2)
                    | (int.CreateTruncating(levels[p + 64]) << 4) | (int.CreateTruncating(levels[p + 96]) << 6));
            }
    }
}
