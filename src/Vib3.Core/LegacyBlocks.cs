using System.Buffers.Binary;

namespace Vib3.Core;

/// <summary>Scalar reference dequantisers for ggml's legacy 4- and 5-bit block types (layouts on <see cref="DType"/>).
/// Each value is computed with the same float operations ggml's reference uses (one product, and for the _1 types
/// one separate add of m), so the results equal ggml's dequantize_row_* bit for bit.</summary>
public static class LegacyBlocks
{
    private const int Half = DTypes.LegacyBlockSize / 2;

    /// <summary>Decodes one block of <paramref name="t"/> (Q4_0, Q4_1, Q5_0 or Q5_1) into 32 values.</summary>
    public static void Dequantize(DType t, ReadOnlySpan<byte> block, Span<float> dst)
    {
        var d = F16(block);
        switch (t)
        {
            case DType.Q4_0:
                Nibbles(block[2..], 0, offset: -8, d, dst);
                break;
            case DType.Q4_1:
                NibblesPlusMin(block[4..], 0, d, F16(block[2..]), dst);
                break;
            case DType.Q5_0:
                Nibbles(block[6..], BinaryPrimitives.ReadUInt32LittleEndian(block[2..]), offset: -16, d, dst);
                break;
            case DType.Q5_1:
                NibblesPlusMin(block[8..], BinaryPrimitives.ReadUInt32LittleEndian(block[4..]), d, F16(block[2..]), dst);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(t), t, "not a legacy 4/5-bit block type");
        }
    }

    /// <summary>value = d·(q + offset), q the 4-bit nibble with bit j of <paramref name="qh"/> as its fifth bit (Q5).</summary>
    private static void Nibbles(ReadOnlySpan<byte> qs, uint qh, int offset, float d, Span<float> dst)
    {
        for (var j = 0; j < Half; j++)
        {
            dst[j] = (Low(qs, qh, j) + offset) * d;
            dst[j + Half] = (High(qs, qh, j) + offset) * d;
        }
    }

    /// <summary>value = d·q + m (the product rounded first, as ggml's reference computes it).</summary>
    private static void NibblesPlusMin(ReadOnlySpan<byte> qs, uint qh, float d, float m, Span<float> dst)
    {
        for (var j = 0; j < Half; j++)
        {
            var lo = Low(qs, qh, j) * d;
            var hi = High(qs, qh, j) * d;
            dst[j] = lo + m;
            dst[j + Half] = hi + m;
        }
    }

    private static int Low(ReadOnlySpan<byte> qs, uint qh, int j) => (qs[j] & 0x0F) | (int)((qh >> j) & 1) << 4;

    private static int High(ReadOnlySpan<byte> qs, uint qh, int j) => (qs[j] >> 4) | (int)((qh >> (j + Half)) & 1) << 4;

    private static float F16(ReadOnlySpan<byte> b) => (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(b));
}
