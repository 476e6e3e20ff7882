namespace Vib3.Core.Quant;

/// <summary>
/// One of ggml's block-quantised weight formats, described the way its scalar dequantiser reads it. Every format in
/// this folder decodes a block into small integers q (one per value, in output order) and, per sub-block, a scale and
/// a min, so that value i is <c>scale·q − min</c> in f32 — the exact arithmetic (operand order and rounding) of
/// ggml's dequantize_row_* for that type. <see cref="BlockRow"/> builds the row dequantiser and the row dot on it, so
/// each format states its bit layout once.
/// </summary>
public interface IBlockFormat
{
    /// <summary>ggml's name for the type (GGUF tensor type), e.g. "q4_K".</summary>
    static abstract string Name { get; }

    /// <summary>Values one block decodes to (256 for the K-quants and IQ4_XS, 32 for IQ4_NL).</summary>
    static abstract int BlockValues { get; }

    /// <summary>Bytes one block occupies in a GGUF file (and, bit for bit, in a vib3 page).</summary>
    static abstract int BlockBytes { get; }

    /// <summary>Values sharing one scale (and min): the sub-block length.</summary>
    static abstract int SubBlockValues { get; }

    /// <summary>Byte offsets, within a block, of its f16 super-scales (d, and dmin where the type has one): the
    /// fields a reader checks for NaN/inf before trusting a block.</summary>
    static abstract ReadOnlySpan<int> HalfOffsets { get; }

    /// <summary>The f16 super-scale of a format that does not store it as one field (IQ1_M spreads its bits over the
    /// top nibbles of four scale words), so a reader checks it as it checks <see cref="HalfOffsets"/>; null for the
    /// formats whose super-scales are all at <see cref="HalfOffsets"/>.</summary>
    static virtual Half? ScatteredHalf(ReadOnlySpan<byte> block) => null;

    /// <summary>Decodes one block: <paramref name="quants"/> gets <see cref="BlockValues"/> integers in output order,
    /// <paramref name="scales"/> and <paramref name="mins"/> one entry per sub-block (mins are 0 for symmetric types).
    /// </summary>
    static abstract void Unpack(ReadOnlySpan<byte> block, Span<sbyte> quants, Span<float> scales, Span<float> mins);
}
