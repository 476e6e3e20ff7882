namespace Vib3.Core.Quant;

/// <summary>
/// Writes <see cref="IQ4XS"/> blocks as ggml's quantize_iq4_xs does without an importance matrix: per sub-block of 32
/// a scale for the non-linear codebook, fitted by x²-weighted least squares over 16 trial scales; the eight scales
/// are stored as 6-bit values against d = (largest-magnitude scale)/−32, and every value re-picked against its stored
/// scale.
/// </summary>
public sealed class IQ4XSQuantizer : IBlockQuantizer
{
    public static int BlockValues => IQ4XS.BlockValues;
    public static int BlockBytes => IQ4XS.BlockBytes;

    private const int SubBlocks = 8;
    private const int SubBlockValues = 32;
    private const int ScalesLowOffset = 4;
    private const int QuantsOffset = 8;

    /// <summary>ggml's ntry: trial scales (codebook[0] + t)/max for t in −7…7.</summary>
    private const int Tries = 7;

    public static void QuantizeBlock(ReadOnlySpan<float> x, Span<byte> block)
    {
        var codebook = IQ4NonLinear.Codebook;
        Span<byte> levels = stackalloc byte[BlockValues];
        Span<float> scales = stackalloc float[SubBlocks];
        float maxScale = 0, maxAbsScale = 0;
        for (var s = 0; s < SubBlocks; s++)
        {
            scales[s] = FitSubBlock(x.Slice(SubBlockValues * s, SubBlockValues), codebook);
            var abs = MathF.Abs(scales[s]);
            if (abs > maxAbsScale) { maxAbsScale = abs; maxScale = scales[s]; }
        }

        block.Clear();
        var d = -maxScale / 32;
        HalfField.Write(block, 0, d);
        var id = d != 0 ? 1 / d : 0f;
        ushort scalesHigh = 0;
        for (var s = 0; s < SubBlocks; s++)
        {
            var l = Math.Clamp(ScaleSearch.NearestInt(id * scales[s]), -32, 31);
            // The values are re-picked against the f32 d·l, not the f16 d read back: ggml's order.
            var dl = d * l;
            var idl = dl != 0 ? 1 / dl : 0f;
            for (var j = SubBlockValues * s; j < SubBlockValues * (s + 1); j++)
                levels[j] = (byte)NearestCodebookIndex(codebook, idl * x[j]);
            l += 32;
            block[ScalesLowOffset + s / 2] |= (byte)((l & 0xF) << (4 * (s % 2)));
            scalesHigh |= (ushort)((l >> 4) << (2 * s));
        }
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(block[2..], scalesHigh);
        for (var s = 0; s < SubBlocks; s++)
            for (var j = 0; j < 16; j++)
                block[QuantsOffset + 16 * s + j] = (byte)(levels[32 * s + j] | (levels[32 * s + 16 + j] << 4));
    }

    /// <summary>The x²-weighted least-squares scale of one sub-block against the codebook (0 for an all-zero one).</summary>
    private static float FitSubBlock(ReadOnlySpan<float> xb, ReadOnlySpan<sbyte> codebook)
    {
        var (max, amax) = ScaleSearch.SignedAbsMax(xb);
        if (amax < ScaleSearch.GroupMaxEps) return 0f;
        var d = -max / codebook[0];
        var (sumqx, sumq2) = FitSums(xb, codebook, 1 / d);
        d = sumq2 > 0 ? sumqx / sumq2 : 0f;
        var best = d * sumqx;
        for (var t = -Tries; t <= Tries; t++)
        {
            (sumqx, sumq2) = FitSums(xb, codebook, (t + codebook[0]) / max);
            if (sumq2 > 0 && sumqx * sumqx > best * sumq2)
            {
                d = sumqx / sumq2;
                best = d * sumqx;
            }
        }
        return d;
    }

    private static (float SumQx, float SumQ2) FitSums(ReadOnlySpan<float> xb, ReadOnlySpan<sbyte> codebook, float id)
    {
        float sumqx = 0, sumq2 = 0;
        foreach (var v in xb)
        {
            float q = codebook[NearestCodebookIndex(codebook, id * v)];
            var w = v * v;
            sumqx += w * q * v;
            sumq2 += w * q * q;
        }
        return (sumqx, sumq2);
    }

    /// <summary>The codebook entry nearest <paramref name="x"/> (ggml's best_index_int8): x picks entry i once it
    /// reaches the midpoint of entries i−1 and i, compared as 2x against their integer sum so the test is exact.</summary>
    private static int NearestCodebookIndex(ReadOnlySpan<sbyte> codebook, float x)
    {
        var x2 = x + x;
        var index = 0;
        for (var step = codebook.Length >> 1; step > 0; step >>= 1)
        {
            var j = index + step;
            if (x2 >= codebook[j - 1] + codebook[j]) index = j;
        }
        return index;
    }
}
