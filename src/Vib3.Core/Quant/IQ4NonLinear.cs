namespace Vib3.Core.Quant;

/// <summary>The 16-entry non-linear codebook IQ4_NL and IQ4_XS index with a nibble (ggml's kvalues_iq4nl): denser
/// near zero, where most weights are.</summary>
public static class IQ4NonLinear
{
    public static ReadOnlySpan<sbyte> Codebook => [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

    /// <summary>Decodes 16 bytes of nibbles into 32 codebook values: byte l gives value l (low nibble) and l+16 (high).</summary>
    public static void Decode(ReadOnlySpan<byte> nibbles, Span<sbyte> values)
    {
        for (var l = 0; l < 16; l++)
        {
            values[l] = Codebook[nibbles[l] & 0xF];
            values[l + 16] = Codebook[nibbles[l] >> 4];
        }
    }
}
