using System.Buffers.Binary;

namespace Vib3.Core.Quant;

/// <summary>
/// ggml's IQ4_XS: 256 values in 136 bytes (4.25 bits per weight), eight sub-blocks of 32, symmetric.
/// Bytes 0–1: d (f16); 2–3: scales_h (u16 little-endian), the top 2 bits of sub-block scale s at bits 2s…2s+1;
/// 4–7: scales_l, the low 4 bits of scale s in the low (s even) or high (s odd) nibble of byte 4 + s/2;
/// 8–135: sixteen bytes of nibbles per sub-block, laid out as IQ4_NL's (<see cref="IQ4NonLinear"/>).
/// Value = d·(scale − 32)·codebook[nibble].
/// </summary>
public sealed class IQ4XS : IBlockFormat
{
    public static string Name => "iq4_xs";
    public static int BlockValues => 256;
    public static int BlockBytes => 136;
    public static int SubBlockValues => 32;
    public static ReadOnlySpan<int> HalfOffsets => [0];

    public static void Unpack(ReadOnlySpan<byte> block, Span<sbyte> quants, Span<float> scales, Span<float> mins)
    {
        var d = (float)BlockRow.ReadHalf(block, 0);
        var scalesHigh = BinaryPrimitives.ReadUInt16LittleEndian(block[2..]);
        for (var s = 0; s < 8; s++)
        {
            var low = (block[4 + s / 2] >> (4 * (s % 2))) & 0xF;
            var high = (scalesHigh >> (2 * s)) & 3;
            scales[s] = d * ((low | (high << 4)) - 32);
            mins[s] = 0;
            IQ4NonLinear.Decode(block.Slice(8 + 16 * s, 16), quants.Slice(32 * s, 32));
        }
    }
}
