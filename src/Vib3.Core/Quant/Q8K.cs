using System.Buffers.Binary;

namespace Vib3.Core.Quant;

/// <summary>
/// ggml's Q8_K, the activation format the K-quant integer dot products take: 256 values in 292 bytes.
/// Bytes 0–3: d (f32, not f16); 4–259: qs, 256 int8 quants; 260–291: bsums, sixteen int16 sums of qs over each run of
/// 16 (so a kernel can apply the sub-block mins without touching qs again). Value ≈ d·q.
/// <see cref="Quantize"/> produces the bytes of ggml's quantize_row_q8_K_ref.
/// </summary>
public static class Q8K
{
    public const int BlockValues = 256;
    public const int BlockBytes = 292;

    public const int QuantsOffset = 4;
    public const int SumsOffset = QuantsOffset + BlockValues;
    public const int SumRun = 16;

    /// <summary>Quantises finite activations <paramref name="x"/> (a whole number of blocks) into <paramref name="dst"/>.
    /// Each block scales by −127/(its value of largest magnitude, the first if tied) and rounds half to even, as
    /// ggml does; an all-zero block gets d = 0, zero quants and zero sums.</summary>
    public static void Quantize(ReadOnlySpan<float> x, Span<byte> dst)
    {
        if (x.Length % BlockValues != 0)
            throw new ArgumentException($"q8_K rows hold multiples of {BlockValues} values, got {x.Length}");
        var need = (long)x.Length / BlockValues * BlockBytes;
        if (dst.Length < need) throw new ArgumentException($"q8_K: {x.Length} values need {need} bytes, got {dst.Length}");
        for (var b = 0; b < x.Length / BlockValues; b++)
            QuantizeBlock(x.Slice(b * BlockValues, BlockValues), dst.Slice(b * BlockBytes, BlockBytes));
    }

    private static void QuantizeBlock(ReadOnlySpan<float> x, Span<byte> block)
    {
        float max = 0, amax = 0;
        foreach (var v in x)
            if (MathF.Abs(v) > amax) { amax = MathF.Abs(v); max = v; }
        block.Clear();
        if (amax == 0) return;
        // −127/max maps the largest-magnitude value to −127 exactly, so no quant reaches −128: ggml's choice, and the
        // bytes must match it.
        var inverseScale = -127f / max;
        var qs = block.Slice(QuantsOffset, BlockValues);
        for (var j = 0; j < BlockValues; j++)
            qs[j] = (byte)(sbyte)Math.Min(127, (int)MathF.Round(inverseScale * x[j], MidpointRounding.ToEven));
        for (var r = 0; r < BlockValues / SumRun; r++)
        {
            var sum = 0;
            for (var j = r * SumRun; j < (r + 1) * SumRun; j++) sum += (sbyte)qs[j];
            BinaryPrimitives.WriteInt16LittleEndian(block[(SumsOffset + 2 * r)..], (short)sum);
        }
        BinaryPrimitives.WriteSingleLittleEndian(block, 1f / inverseScale);
    }
}
