namespace Vib3.Core.Quant;

/// <summary>
/// ggml's Q6_K: 256 values in 210 bytes (6.5625 bits per weight), sixteen sub-blocks of 16, symmetric.
/// Bytes 0–127: ql, the low 4 bits; 128–191: qh, the high 2 bits; 192–207: sixteen int8 scales; 208–209: d (f16).
/// The block is two halves of 128 values (half h: ql bytes 64h…64h+63, qh bytes 128+32h…128+32h+31); within a half,
/// for l in 0…31, ql[l] holds values l (low nibble) and l+64 (high nibble), ql[l+32] values l+32 and l+96, and qh[l]
/// the high bits of values l, l+32, l+64, l+96 in its bit pairs 0–1, 2–3, 4–5, 6–7.
/// Value = d·scale·(q − 32) with q in 0…63.
/// </summary>
public sealed class Q6K : IBlockFormat
{
    public static string Name => "q6_K";
    public static int BlockValues => 256;
    public static int BlockBytes => 210;
    public static int SubBlockValues => 16;
    public static ReadOnlySpan<int> HalfOffsets => [208];

    public static void Unpack(ReadOnlySpan<byte> block, Span<sbyte> quants, Span<float> scales, Span<float> mins)
    {
        var d = (float)BlockRow.ReadHalf(block, 208);
        for (var s = 0; s < 16; s++)
        {
            scales[s] = d * (sbyte)block[192 + s];
            mins[s] = 0;
        }
        for (var h = 0; h < 2; h++)
        {
            var ql = block.Slice(64 * h, 64);
            var qh = block.Slice(128 + 32 * h, 32);
            var y = quants.Slice(128 * h, 128);
            for (var l = 0; l < 32; l++)
            {
                y[l] = (sbyte)(((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
                y[l + 32] = (sbyte)(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
                y[l + 64] = (sbyte)(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
                y[l + 96] = (sbyte)(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
            }
        }
    }
}
