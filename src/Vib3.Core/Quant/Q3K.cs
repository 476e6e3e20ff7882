namespace Vib3.Core.Quant;

/// <summary>
/// ggml's Q3_K: 256 values in 110 bytes (3.4375 bits per weight), sixteen sub-blocks of 16, symmetric.
/// Bytes 0–31: hmask, the third bit of each value; 32–95: qs, the low 2 bits; 96–107: sixteen 6-bit scales;
/// 108–109: d (f16). Value p = 128h + 32j + l (h in 0…1, j in 0…3, l in 0…31) takes bits 2j…2j+1 of qs[32h + l]
/// and bit 4h+j of hmask[l]; a clear hmask bit subtracts 4, so q is in −4…3.
/// Scale s (0…15) is 6 bits: the low nibble of byte s (s &lt; 8) or the high nibble of byte s−8 (s ≥ 8), topped by
/// bits 2(s/4)…2(s/4)+1 of byte 8 + s%4. Value = d·(scale − 32)·q.
/// </summary>
public sealed class Q3K : IBlockFormat
{
    public static string Name => "q3_K";
    public static int BlockValues => 256;
    public static int BlockBytes => 110;
    public static int SubBlockValues => 16;
    public static ReadOnlySpan<int> HalfOffsets => [108];

    public static void Unpack(ReadOnlySpan<byte> block, Span<sbyte> quants, Span<float> scales, Span<float> mins)
    {
        var d = (float)BlockRow.ReadHalf(block, 108);
        var table = block.Slice(96, 12);
        for (var s = 0; s < 16; s++)
        {
            var low = s < 8 ? table[s] & 0xF : table[s - 8] >> 4;
            var high = (table[8 + s % 4] >> (2 * (s / 4))) & 3;
            scales[s] = d * ((low | (high << 4)) - 32);
            mins[s] = 0;
        }
        var hmask = block[..32];
        var qs = block.Slice(32, 64);
        for (var p = 0; p < 256; p++)
        {
            int h = p / 128, j = p % 128 / 32, l = p % 32;
            var low2 = (qs[32 * h + l] >> (2 * j)) & 3;
            var high = (hmask[l] >> (4 * h + j)) & 1;
            quants[p] = (sbyte)(low2 - (high == 0 ? 4 : 0));
        }
    }
}
