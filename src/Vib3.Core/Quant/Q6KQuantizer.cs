namespace Vib3.Core.Quant;

/// <summary>Writes <see cref="Q6K"/> blocks as ggml's quantize_row_q6_K_ref does: each sub-block of 16 gets a
/// symmetric 6-bit scale (<see cref="ScaleSearch.SymmetricWeighted"/>, nmax 32); the sixteen scales are stored as int8
/// against d = (largest-magnitude scale)/−128, and every value re-quantised against its stored scale.</summary>
public sealed class Q6KQuantizer : IBlockQuantizer
{
    public static int BlockValues => Q6K.BlockValues;
    public static int BlockBytes => Q6K.BlockBytes;

    private const int SubBlocks = 16;
    private const int SubBlockValues = 16;
    private const int HighBitsOffset = 128;
    private const int ScalesOffset = 192;
    private const int DOffset = 208;

    public static void QuantizeBlock(ReadOnlySpan<float> x, Span<byte> block)
    {
        Span<sbyte> levels = stackalloc sbyte[BlockValues];
        Span<float> scales = stackalloc float[SubBlocks];
        float maxScale = 0, maxAbsScale = 0;
        for (var s = 0; s < SubBlocks; s++)
        {
            scales[s] = ScaleSearch.SymmetricWeighted(x.Slice(SubBlockValues * s, SubBlockValues), 32,
                levels.Slice(SubBlockValues * s, SubBlockValues));
            var abs = MathF.Abs(scales[s]);
            if (abs > maxAbsScale) { maxAbsScale = abs; maxScale = scales[s]; }
        }
        block.Clear();
        if (maxAbsScale < ScaleSearch.GroupMaxEps) return; // an all-zero block: every field 0

        var iscale = -128f / maxScale;
        HalfField.Write(block, DOffset, 1 / iscale);
        var stored = block.Slice(ScalesOffset, SubBlocks);
        for (var s = 0; s < SubBlocks; s++)
            stored[s] = (byte)(sbyte)Math.Min(127, ScaleSearch.NearestInt(iscale * scales[s]));

        var d = HalfField.Read(block, DOffset);
        for (var s = 0; s < SubBlocks; s++)
        {
            var ds = d * (sbyte)stored[s];
            if (ds == 0) continue;
            for (var i = SubBlockValues * s; i < SubBlockValues * (s + 1); i++)
                levels[i] = (sbyte)(Math.Clamp(ScaleSearch.NearestInt(x[i] / ds), -32, 31) + 32);
        }

        for (var h = 0; h < 2; h++)
        {
            var ql = block.Slice(64 * h, 64);
            var qh = block.Slice(HighBitsOffset + 32 * h, 32);
            var q = levels.Slice(128 * h, 128);
            for (var l = 0; l < 32; l++)
            {
                ql[l] = (byte)((q[l] & 0xF) | ((q[l + 64] & 0xF) << 4));
                ql[l + 32] = (byte)((q[l + 32] & 0xF) | ((q[l + 96] & 0xF) << 4));
                qh[l] = (byte)((q[l] >> 4) | ((q[l + 32] >> 4) << 2) | ((q[l + 64] >> 4) << 4) | ((q[l + 96] >> 4) << 6));
            }
        }
    }
}
