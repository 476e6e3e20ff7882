namespace Vib3.Core.Quant;

/// <summary>A block format as a value a type table can hold: <see cref="IBlockFormat"/>'s static members bound to one
/// object, so <see cref="DTypeLayout"/> can name the format that reads a <see cref="DType"/>.</summary>
public interface IBlockCodec
{
    int BlockValues { get; }

    int BlockBytes { get; }

    /// <summary>Writes the <c>dst.Length</c> values stored in <paramref name="row"/> (whole blocks) to <paramref name="dst"/>,
    /// bit for bit as ggml's dequantize_row_* does.</summary>
    void Dequantize(ReadOnlySpan<byte> row, Span<float> dst);

    /// <summary>The first block of <paramref name="row"/> whose f16 super-scale is NaN or ±inf, or −1.</summary>
    long FirstNonFiniteBlock(ReadOnlySpan<byte> row);
}

/// <summary>The <see cref="IBlockCodec"/> of format <typeparamref name="T"/>.</summary>
public sealed class BlockCodec<T> : IBlockCodec where T : IBlockFormat
{
    public static BlockCodec<T> Instance { get; } = new();

    private BlockCodec() { }

    public int BlockValues => T.BlockValues;

    public int BlockBytes => T.BlockBytes;

    public void Dequantize(ReadOnlySpan<byte> row, Span<float> dst) => BlockRow.Dequantize<T>(row, dst);

    public long FirstNonFiniteBlock(ReadOnlySpan<byte> row) => BlockRow.FirstNonFiniteBlock<T>(row);
}
