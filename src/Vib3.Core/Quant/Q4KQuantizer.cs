namespace Vib3.Core.Quant;

/// <summary>Writes <see cref="Q4K"/> blocks as ggml's quantize_row_q4_K_ref does: <see cref="AsymmetricSuperBlock"/>
/// with 4-bit quants (nmax 15) and 21 trial scales from nmax − 1, then the quants packed in four 32-byte groups.</summary>
public sealed class Q4KQuantizer : IBlockQuantizer
{
    public static int BlockValues => Q4K.BlockValues;
    public static int BlockBytes => Q4K.BlockBytes;

    private const int QuantsOffset = 16;

    public static void QuantizeBlock(ReadOnlySpan<float> x, Span<byte> block)
    {
        Span<byte> levels = stackalloc byte[AsymmetricSuperBlock.Values];
        AsymmetricSuperBlock.Quantize(x, nmax: 15, rmin: -1f, steps: 20, block, levels);
        var qs = block[QuantsOffset..];
        for (var g = 0; g < 4; g++)
            for (var l = 0; l < 32; l++)
                qs[32 * g + l] = (byte)(levels[64 * g + l] | (levels[64 * g + 32 + l] << 4));
    }
}
