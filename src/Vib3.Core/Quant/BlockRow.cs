using System.Buffers.Binary;

namespace Vib3.Core.Quant;

/// <summary>
/// Scalar reference kernels over a row of blocks of any <see cref="IBlockFormat"/>: dequantisation (bit-exact with
/// ggml's dequantize_row_*) and the dot product with an f32 vector (the matvec reference a fast path is tested
/// against). Neither is fast; both are the definition.
/// </summary>
public static class BlockRow
{
    /// <summary>Most values one block of any format here decodes to (QK_K); sizes the stack scratch.</summary>
    private const int MaxBlockValues = 256;

    /// <summary>Fewest values one sub-block holds in any format here; sizes the per-sub-block scratch.</summary>
    private const int MinSubBlockValues = 16;

    /// <summary>Bytes a row of <paramref name="values"/> values occupies; the count must be a whole number of blocks.</summary>
    public static long ByteCount<T>(long values) where T : IBlockFormat
    {
        ArgumentOutOfRangeException.ThrowIfNegative(values);
        if (values % T.BlockValues != 0)
            throw new ArgumentException($"{T.Name} rows hold multiples of {T.BlockValues} values, got {values}");
        return values / T.BlockValues * T.BlockBytes;
    }

    /// <summary>Writes the <c>dst.Length</c> values stored in <paramref name="row"/> to <paramref name="dst"/>.</summary>
    public static void Dequantize<T>(ReadOnlySpan<byte> row, Span<float> dst) where T : IBlockFormat
    {
        CheckRow<T>(row, dst.Length);
        Span<sbyte> q = stackalloc sbyte[MaxBlockValues];
        Span<float> scales = stackalloc float[MaxBlockValues / MinSubBlockValues];
        Span<float> mins = stackalloc float[MaxBlockValues / MinSubBlockValues];
        for (var b = 0; b < dst.Length / T.BlockValues; b++)
        {
            T.Unpack(row.Slice(b * T.BlockBytes, T.BlockBytes), q, scales, mins);
            var y = dst.Slice(b * T.BlockValues, T.BlockValues);
            for (var i = 0; i < y.Length; i++)
            {
                var s = i / T.SubBlockValues;
                y[i] = scales[s] * q[i] - mins[s];
            }
        }
    }

    /// <summary>Σ w_i·x_i over the row, computed per sub-block as scale·Σ q·x − min·Σ x (the shape integer kernels
    /// use), so it differs from dequantise-then-dot only by f32 rounding.</summary>
    public static float Dot<T>(ReadOnlySpan<byte> row, ReadOnlySpan<float> x) where T : IBlockFormat
    {
        CheckRow<T>(row, x.Length);
        Span<sbyte> q = stackalloc sbyte[MaxBlockValues];
        Span<float> scales = stackalloc float[MaxBlockValues / MinSubBlockValues];
        Span<float> mins = stackalloc float[MaxBlockValues / MinSubBlockValues];
        var sum = 0f;
        for (var b = 0; b < x.Length / T.BlockValues; b++)
        {
            T.Unpack(row.Slice(b * T.BlockBytes, T.BlockBytes), q, scales, mins);
            var xb = x.Slice(b * T.BlockValues, T.BlockValues);
            for (var s = 0; s < T.BlockValues / T.SubBlockValues; s++)
            {
                float qx = 0, xs = 0;
                for (var i = s * T.SubBlockValues; i < (s + 1) * T.SubBlockValues; i++)
                {
                    qx += q[i] * xb[i];
                    xs += xb[i];
                }
                sum += scales[s] * qx - mins[s] * xs;
            }
        }
        return sum;
    }

    /// <summary>Index of the first block in <paramref name="row"/> whose f16 super-scale is NaN or ±inf, or −1: such a
    /// block decodes to garbage, so a reader refuses it instead of publishing it.</summary>
    public static long FirstNonFiniteBlock<T>(ReadOnlySpan<byte> row) where T : IBlockFormat
    {
        if (row.Length % T.BlockBytes != 0)
            throw new ArgumentException($"{T.Name}: {row.Length} bytes is not a whole number of {T.BlockBytes}-byte blocks");
        for (var b = 0; b < row.Length / T.BlockBytes; b++)
        {
            var block = row.Slice(b * T.BlockBytes, T.BlockBytes);
            foreach (var offset in T.HalfOffsets)
                if (!Half.IsFinite(ReadHalf(block, offset))) return b;
            if (T.ScatteredHalf(block) is { } scattered && !Half.IsFinite(scattered)) return b;
        }
        return -1;
    }

    /// <summary>The little-endian f16 at <paramref name="offset"/>, as ggml stores d and dmin.</summary>
    internal static Half ReadHalf(ReadOnlySpan<byte> bytes, int offset) =>
        BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(bytes[offset..]));

    private static void CheckRow<T>(ReadOnlySpan<byte> row, int values) where T : IBlockFormat
    {
        var need = ByteCount<T>(values);
        if (row.Length < need) throw new ArgumentException($"{T.Name}: {values} values need {need} bytes, got {row.Length}");
    }
}
