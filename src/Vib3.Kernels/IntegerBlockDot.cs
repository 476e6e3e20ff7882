using System.Buffers.Binary;
using Vib3.Core.Quant;

namespace Vib3.Kernels;

/// <summary>
/// Scalar row dot of a block-format weight row (<see cref="IBlockFormat"/>) with quantised activations, computed the
/// way llama.cpp's ggml_vec_dot_*_q8_K do: per block, the quant products are summed exactly in integers per
/// sub-block and weighted by the sub-block's integer scale (and its integer min times the sub-block's activation
/// sum), then the block adds (d_x·u)·Σscale·Σq_w·q_x − (d_x·dmin_w)·Σmin·Σq_x in f32, where u is the scales' unit
/// d_w / <see cref="IBlockFormat.ScaleUnitDivisor"/>. For the IQ2/IQ3/IQ1 types ggml sums d_x·d_w·Σscale·Σq_w·q_x
/// per block and multiplies the row by 1/8 or 1/4 at the end (IQ1 adds its ±1/8 shift as 0.125·Σscale·δ·Σq_x); a
/// power-of-two factor moved inside commutes with f32 rounding, and IQ1's q_w = 8·grid ± 1 folds the shift into the
/// same exact integer, so these equal ggml's generic dots bit for bit. The only difference from the generic ggml code
/// is f32 summation order (ggml keeps eight lanes for Q3_K–Q6_K and applies IQ4_XS's scales per pair of sub-blocks in
/// f32), a few ulps per row.
/// This is the reference form; a SIMD form of a type replaces the call in <see cref="MatVec"/>'s dispatch.
/// </summary>
internal static unsafe class IntegerBlockDot
{
    private const int MaxBlockValues = Q8K.BlockValues;
    private const int MaxSubBlocks = MaxBlockValues / 16;

    /// <summary>Bytes before qs in a Q8_K block: its f32 d.</summary>
    private const int Q8KQuantsOffset = 4;

    /// <summary>Row of a 256-value format against Q8_K activation blocks (<see cref="Q8K.Quantize"/>'s bytes).</summary>
    public static float WithQ8K<T>(byte* row, byte* activations, int blocks) where T : IBlockFormat
    {
        var sum = 0f;
        for (var b = 0; b < blocks; b++)
        {
            var a = activations + (long)b * Q8K.BlockBytes;
            var dx = BinaryPrimitives.ReadSingleLittleEndian(new ReadOnlySpan<byte>(a, 4));
            sum += Block<T>(row + (long)b * T.BlockBytes, dx, new ReadOnlySpan<sbyte>(a + Q8KQuantsOffset, T.BlockValues));
        }
        return sum;
    }

    /// <summary>One weight block against its activation quants <paramref name="x"/> (scale <paramref name="dx"/>).</summary>
    private static float Block<T>(byte* block, float dx, ReadOnlySpan<sbyte> x) where T : IBlockFormat
    {
        Span<sbyte> q = stackalloc sbyte[MaxBlockValues];
        Span<float> scales = stackalloc float[MaxSubBlocks];
        Span<float> mins = stackalloc float[MaxSubBlocks];
        var bytes = new ReadOnlySpan<byte>(block, T.BlockBytes);
        T.Unpack(bytes, q, scales, mins);
        var halves = T.HalfOffsets;
        var unit = SuperScale<T>(bytes) / T.ScaleUnitDivisor;
        var dmin = halves.Length > 1 ? ReadHalf(bytes, halves[1]) : 0f;
        int scaled = 0, mined = 0;
        for (var s = 0; s < T.BlockValues / T.SubBlockValues; s++)
        {
            int products = 0, activationSum = 0;
            for (var i = s * T.SubBlockValues; i < (s + 1) * T.SubBlockValues; i++)
            {
                products += q[i] * x[i];
                activationSum += x[i];
            }
            scaled += IntegerFactor(scales[s], unit) * products;
            mined += IntegerFactor(mins[s], dmin) * activationSum;
        }
        return dx * unit * scaled - dx * dmin * mined;
    }

    /// <summary>The block's f16 super-scale d: the field at the first of <see cref="IBlockFormat.HalfOffsets"/>, or
    /// the one a format scatters over the block (IQ1_M).</summary>
    private static float SuperScale<T>(ReadOnlySpan<byte> bytes) where T : IBlockFormat =>
        T.ScatteredHalf(bytes) is { } scattered ? (float)scattered : ReadHalf(bytes, T.HalfOffsets[0]);

    /// <summary>The integer k with <paramref name="product"/> = <paramref name="superScale"/>·k. Unpack gives each
    /// sub-block's scale as u·k in f32 (u = d, or d/8 or d/4 for the IQ types: powers of two, exact), and that product
    /// is exact (d is an f16, 11 significant bits; k has at most 8), so the division recovers k exactly and the formats
    /// need not state their scale bits a second time.</summary>
    private static int IntegerFactor(float product, float superScale) =>
        superScale == 0 || product == 0 ? 0 : (int)MathF.Round(product / superScale);

    private static float ReadHalf(ReadOnlySpan<byte> bytes, int offset) =>
        (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(bytes[offset..]));
}
