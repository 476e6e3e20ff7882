using System.Buffers.Binary;

namespace Vib3.Core.Quant;

/// <summary>
/// ggml's 32-value formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) as its quantize_row_*_ref write them (layouts in
/// <see cref="DType"/>'s documentation).
/// </summary>
internal static class SymmetricBlock32
{
    public const int Values = 32;

    /// <summary>Q4_0/Q5_0: d = (value of largest magnitude, first on ties)/−2^(bits−1), so that value maps to the most
    /// negative level; each value is x/d + 2^(bits−1) + 0.5 truncated, capped at the top level.</summary>
    public static void QuantizeOffsetLevels(ReadOnlySpan<float> x, int bits, Span<byte> block, Span<byte> levels)
    {
        float amax = 0, max = 0;
        foreach (var v in x)
            if (amax < MathF.Abs(v)) { amax = MathF.Abs(v); max = v; }
        var half = 1 << (bits - 1);
        var d = max / -half;
        var id = d != 0 ? 1f / d : 0f;
        HalfField.Write(block, 0, d);
        var top = (1 << bits) - 1;
        var offset = half + 0.5f;
        for (var j = 0; j < Values; j++)
            levels[j] = (byte)Math.Min(top, (sbyte)(int)(x[j] * id + offset));
    }

    /// <summary>Q5_0's and Q5_1's quants from their 5-bit levels: qh (32 bits, the fifth bit of value j at bit j),
    /// then the low nibbles as Q4_0's, at the start of <paramref name="quants"/>.</summary>
    public static void WriteFiveBitLevels(ReadOnlySpan<byte> levels, Span<byte> quants)
    {
        uint qh = 0;
        for (var j = 0; j < Values; j++) qh |= (uint)((levels[j] & 0x10) >> 4) << j;
        BinaryPrimitives.WriteUInt32LittleEndian(quants, qh);
        for (var j = 0; j < 16; j++) quants[4 + j] = (byte)((levels[j] & 0xF) | ((levels[j + 16] & 0xF) << 4));
    }
}

/// <summary>Writes Q4_0 blocks (d, then byte j holds value j in its low nibble and value j+16 in its high one).</summary>
public sealed class Q4_0Quantizer : IBlockQuantizer
{
    public static int BlockValues => SymmetricBlock32.Values;
    public static int BlockBytes => 2 + 16;

    public static void QuantizeBlock(ReadOnlySpan<float> x, Span<byte> block)
    {
        Span<byte> levels = stackalloc byte[SymmetricBlock32.Values];
        SymmetricBlock32.QuantizeOffsetLevels(x, 4, block, levels);
        for (var j = 0; j < 16; j++) block[2 + j] = (byte)(levels[j] | (levels[j + 16] << 4));
    }
}

/// <summary>Writes Q5_0 blocks (d, qh with the fifth bit of value j at bit j, then nibbles as Q4_0).</summary>
public sealed class Q5_0Quantizer : IBlockQuantizer
{
    public static int BlockValues => SymmetricBlock32.Values;
    public static int BlockBytes => 2 + 4 + 16;

    public static void QuantizeBlock(ReadOnlySpan<float> x, Span<byte> block)
    {
        Span<byte> levels = stackalloc byte[SymmetricBlock32.Values];
        SymmetricBlock32.QuantizeOffsetLevels(x, 5, block, levels);
        // The levels are 0…31 here, so the fifth bit is levels[j] >> 4, the bit WriteFiveBitLevels masks.
        SymmetricBlock32.WriteFiveBitLevels(levels, block[2..]);
    }
}

/// <summary>Writes Q8_0 blocks: d = max|x|/127, quants round(x/d) half away from zero.</summary>
public sealed class Q8_0Quantizer : IBlockQuantizer
{
    public static int BlockValues => SymmetricBlock32.Values;
    public static int BlockBytes => 2 + 32;

    public static void QuantizeBlock(ReadOnlySpan<float> x, Span<byte> block)
    {
        var amax = 0f;
        foreach (var v in x) amax = MathF.Max(amax, MathF.Abs(v));
        var d = amax / 127f;
        var id = d != 0 ? 1f / d : 0f;
        HalfField.Write(block, 0, d);
        for (var j = 0; j < SymmetricBlock32.Values; j++)
            block[2 + j] = (byte)(sbyte)MathF.Round(x[j] * id, MidpointRounding.AwayFromZero);
    }
}

/// <summary>ggml's asymmetric 32-value formats (Q4_1, Q5_1): d = (max − min)/(2^bits − 1) and m = min, both f16;
/// each level is (x − min)/d + 0.5 truncated.</summary>
internal static class AsymmetricBlock32
{
    public static void QuantizeLevels(ReadOnlySpan<float> x, int bits, Span<byte> block, Span<byte> levels)
    {
        float min = float.MaxValue, max = -float.MaxValue;
        foreach (var v in x)
        {
            if (v < min) min = v;
            if (v > max) max = v;
        }
        var d = (max - min) / ((1 << bits) - 1);
        var id = d != 0 ? 1f / d : 0f;
        HalfField.Write(block, 0, d);
        HalfField.Write(block, 2, min);
        for (var j = 0; j < SymmetricBlock32.Values; j++)
            levels[j] = (byte)(int)((x[j] - min) * id + 0.5f);
    }
}

/// <summary>Writes Q4_1 blocks (d, m, then nibbles as Q4_0); ggml caps the 4-bit level at 15.</summary>
public sealed class Q4_1Quantizer : IBlockQuantizer
{
    public static int BlockValues => SymmetricBlock32.Values;
    public static int BlockBytes => 2 + 2 + 16;

    public static void QuantizeBlock(ReadOnlySpan<float> x, Span<byte> block)
    {
        Span<byte> levels = stackalloc byte[SymmetricBlock32.Values];
        AsymmetricBlock32.QuantizeLevels(x, 4, block, levels);
        for (var j = 0; j < 16; j++)
            block[4 + j] = (byte)(Math.Min((byte)15, levels[j]) | (Math.Min((byte)15, levels[j + 16]) << 4));
    }
}

/// <summary>Writes Q5_1 blocks (d, m, qh with the fifth bit of value j at bit j, then nibbles as Q4_0).</summary>
public sealed class Q5_1Quantizer : IBlockQuantizer
{
    public static int BlockValues => SymmetricBlock32.Values;
    public static int BlockBytes => 2 + 2 + 4 + 16;

    public static void QuantizeBlock(ReadOnlySpan<float> x, Span<byte> block)
    {
        Span<byte> levels = stackalloc byte[SymmetricBlock32.Values];
        AsymmetricBlock32.QuantizeLevels(x, 5, block, levels);
        SymmetricBlock32.WriteFiveBitLevels(levels, block[4..]);
    }
}
