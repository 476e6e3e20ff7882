namespace Vib3.Core.Quant;

/// <summary>Writes <see cref="Q5K"/> blocks as ggml's quantize_row_q5_K_ref does: <see cref="AsymmetricSuperBlock"/>
/// with 5-bit quants (nmax 31) and 16 trial scales from nmax − 0.5; the fifth bit of each quant goes to qh.</summary>
public sealed class Q5KQuantizer : IBlockQuantizer
{
    public static int BlockValues => Q5K.BlockValues;
    public static int BlockBytes => Q5K.BlockBytes;

    private const int HighBitsOffset = 16;
    private const int LowBitsOffset = 48;

    public static void QuantizeBlock(ReadOnlySpan<float> x, Span<byte> block)
    {
        Span<byte> levels = stackalloc byte[AsymmetricSuperBlock.Values];
        AsymmetricSuperBlock.Quantize(x, nmax: 31, rmin: -0.5f, steps: 15, block, levels);
        var qh = block.Slice(HighBitsOffset, 32);
        var ql = block[LowBitsOffset..];
        qh.Clear();
        for (var g = 0; g < 4; g++)
            for (var l = 0; l < 32; l++)
            {
                int lo = levels[64 * g + l], hi = levels[64 * g + 32 + l];
                // Sub-block s = 2g (low nibbles) and 2g + 1 (high nibbles) keep their fifth bit in bit s of qh[l].
                qh[l] |= (byte)(((lo >> 4) << (2 * g)) | ((hi >> 4) << (2 * g + 1)));
                ql[32 * g + l] = (byte)((lo & 0xF) | ((hi & 0xF) << 4));
            }
    }
}
