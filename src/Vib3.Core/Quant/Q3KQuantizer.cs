namespace Vib3.Core.Quant;

/// <summary>Writes <see cref="Q3K"/> blocks as ggml's quantize_row_q3_K_ref does: each sub-block of 16 gets a
/// symmetric scale from <see cref="ScaleSearch.SymmetricRefined"/> (quants −4…3); the scales are stored as 6-bit
/// values against d = (largest-magnitude scale)/−32, and every value re-quantised against its stored scale.</summary>
public sealed class Q3KQuantizer : IBlockQuantizer
{
    public static int BlockValues => Q3K.BlockValues;
    public static int BlockBytes => Q3K.BlockBytes;

    private const int SubBlocks = 16;
    private const int SubBlockValues = 16;
    private const int QuantsOffset = 32;
    private const int ScalesOffset = 96;
    private const int DOffset = 108;

    public static void QuantizeBlock(ReadOnlySpan<float> x, Span<byte> block)
    {
        Span<sbyte> levels = stackalloc sbyte[BlockValues];
        Span<float> scales = stackalloc float[SubBlocks];
        float maxScale = 0, maxAbsScale = 0;
        for (var s = 0; s < SubBlocks; s++)
        {
            scales[s] = ScaleSearch.SymmetricRefined(x.Slice(SubBlockValues * s, SubBlockValues), 4,
                levels.Slice(SubBlockValues * s, SubBlockValues));
            var abs = MathF.Abs(scales[s]);
            if (abs > maxAbsScale) { maxAbsScale = abs; maxScale = scales[s]; }
        }

        block.Clear();
        var table = block.Slice(ScalesOffset, 12);
        if (maxScale != 0)
        {
            var iscale = -32f / maxScale;
            for (var s = 0; s < SubBlocks; s++)
            {
                // ggml keeps nearest_int's result in an int8 before clamping.
                var l = Math.Clamp((int)(sbyte)ScaleSearch.NearestInt(iscale * scales[s]), -32, 31) + 32;
                if (s < 8) table[s] = (byte)(l & 0xF);
                else table[s - 8] |= (byte)((l & 0xF) << 4);
                table[8 + s % 4] |= (byte)((l >> 4) << (2 * (s / 4)));
            }
            HalfField.Write(block, DOffset, 1 / iscale);
        }
        else
        {
            HalfField.Write(block, DOffset, 0f);
        }

        var d = HalfField.Read(block, DOffset);
        for (var s = 0; s < SubBlocks; s++)
        {
            var low = s < 8 ? table[s] & 0xF : table[s - 8] >> 4;
            var sc = (low | (((table[8 + s % 4] >> (2 * (s / 4))) & 3) << 4)) - 32;
            var ds = d * sc;
            if (ds == 0) continue;
            for (var i = SubBlockValues * s; i < SubBlockValues * (s + 1); i++)
                levels[i] = (sbyte)(Math.Clamp(ScaleSearch.NearestInt(x[i] / ds), -4, 3) + 4);
        }

        // The third bit of value j goes to bit j/32 of hmask[j%32]; the low two bits are packed as Q2_K's.
        var hmask = block[..32];
        for (var j = 0; j < BlockValues; j++)
            if (levels[j] > 3)
            {
                hmask[j % 32] |= (byte)(1 << (j / 32));
                levels[j] -= 4;
            }
        TwoBitQuants.Pack(levels, block.Slice(QuantsOffset, 64));
    }
}
