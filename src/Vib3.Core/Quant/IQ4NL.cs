namespace Vib3.Core.Quant;

/// <summary>
/// ggml's IQ4_NL: 32 values in 18 bytes (4.5 bits per weight), one scale.
/// Bytes 0–1: d (f16); 2–17: nibbles — byte l holds value l (low) and l+16 (high), each an index into the
/// non-linear codebook (<see cref="IQ4NonLinear"/>). Value = d·codebook[nibble].
/// </summary>
public sealed class IQ4NL : IBlockFormat
{
    public static string Name => "iq4_nl";
    public static int BlockValues => 32;
    public static int BlockBytes => 18;
    public static int SubBlockValues => 32;
    public static ReadOnlySpan<int> HalfOffsets => [0];

    public static void Unpack(ReadOnlySpan<byte> block, Span<sbyte> quants, Span<float> scales, Span<float> mins)
    {
        scales[0] = (float)BlockRow.ReadHalf(block, 0);
        mins[0] = 0;
        IQ4NonLinear.Decode(block.Slice(2, 16), quants);
    }
}
