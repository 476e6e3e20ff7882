namespace Vib3.Core.Quant;

/// <summary>
/// Q4_K's and Q5_K's 12-byte table of eight 6-bit scales and eight 6-bit mins (one pair per 32-value sub-block).
/// Bytes 0–3 hold scales 0–3 in their low 6 bits, bytes 4–7 mins 0–3 likewise; bytes 8–11 hold scale j (j = 4–7) in
/// their low nibble and min j in their high nibble, and the missing top two bits of scale j and min j are the top two
/// bits of bytes j−4 and j respectively.
/// </summary>
public static class PackedScales6
{
    public const int Bytes = 12;

    public static (int Scale, int Min) Get(ReadOnlySpan<byte> table, int j)
    {
        if (j < 4) return (table[j] & 63, table[j + 4] & 63);
        return ((table[j + 4] & 0xF) | ((table[j - 4] >> 6) << 4), (table[j + 4] >> 4) | ((table[j] >> 6) << 4));
    }

    /// <summary>Stores the 6-bit <paramref name="scale"/> and <paramref name="min"/> of sub-block j into a table that
    /// was cleared first (the top bits of j = 4–7 are OR-ed into bytes that j − 4 and j also use).</summary>
    public static void Set(Span<byte> table, int j, byte scale, byte min)
    {
        if (j < 4)
        {
            table[j] |= scale;
            table[j + 4] |= min;
            return;
        }
        table[j + 4] = (byte)((scale & 0xF) | ((min & 0xF) << 4));
        table[j - 4] |= (byte)((scale >> 4) << 6);
        table[j] |= (byte)((min >> 4) << 6);
    }
}
