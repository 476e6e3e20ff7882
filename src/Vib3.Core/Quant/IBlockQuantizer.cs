using System.Buffers.Binary;

namespace Vib3.Core.Quant;

/// <summary>
/// Encodes f32 values into one of ggml's block formats, producing the bytes ggml's quantize_row_*_ref produces: the
/// quantizer llama.cpp runs when it is given no importance matrix. Exactness depends on doing ggml's f32 operations
/// in ggml's order (no fused multiply-adds, no reassociated sums), so each implementation follows that order and
/// says so where it matters.
/// </summary>
public interface IBlockQuantizer
{
    /// <summary>Values one block holds.</summary>
    static abstract int BlockValues { get; }

    /// <summary>Bytes one block occupies.</summary>
    static abstract int BlockBytes { get; }

    /// <summary>Encodes <see cref="BlockValues"/> values of <paramref name="x"/> into the <see cref="BlockBytes"/>
    /// bytes of <paramref name="block"/> (every byte is written).</summary>
    static abstract void QuantizeBlock(ReadOnlySpan<float> x, Span<byte> block);
}

/// <summary>A quantizer as a value a type table can hold (<see cref="DTypeLayout"/>): rows of whole blocks.</summary>
public interface IRowQuantizer
{
    /// <summary>Encodes <paramref name="values"/> (a whole number of blocks) into <paramref name="blocks"/>.</summary>
    void Quantize(ReadOnlySpan<float> values, Span<byte> blocks);
}

/// <summary>The <see cref="IRowQuantizer"/> of <typeparamref name="T"/>. Blocks are independent, so a long span is
/// split across the thread pool (the bytes do not depend on the split): the K-quant searches encode only a few
/// million values a second per core, and a converter hands over a page at a time.</summary>
public sealed class RowQuantizer<T> : IRowQuantizer where T : IBlockQuantizer
{
    /// <summary>Values one parallel work item encodes: large enough that scheduling costs nothing next to the search.</summary>
    public const int ValuesPerTask = 16 * 1024;

    public static RowQuantizer<T> Instance { get; } = new();

    private RowQuantizer() { }

    public void Quantize(ReadOnlySpan<float> values, Span<byte> blocks)
    {
        if (values.Length % T.BlockValues != 0)
            throw new ArgumentException($"{typeof(T).Name}: {values.Length} values is not a whole number of {T.BlockValues}-value blocks");
        var count = values.Length / T.BlockValues;
        if (blocks.Length < (long)count * T.BlockBytes)
            throw new ArgumentException($"{typeof(T).Name}: {count} blocks need {(long)count * T.BlockBytes} bytes, got {blocks.Length}");
        var blocksPerTask = Math.Max(1, ValuesPerTask / T.BlockValues);
        if (count <= blocksPerTask)
        {
            QuantizeBlocks(values, blocks, 0, count);
            return;
        }
        unsafe
        {
            fixed (float* x = values)
            fixed (byte* y = blocks)
            {
                var (px, py, length, bytes) = ((nint)x, (nint)y, values.Length, blocks.Length);
                Parallel.For(0, (count + blocksPerTask - 1) / blocksPerTask, task =>
                {
                    var first = task * blocksPerTask;
                    QuantizeBlocks(new ReadOnlySpan<float>((float*)px, length), new Span<byte>((byte*)py, bytes),
                        first, Math.Min(blocksPerTask, count - first));
                });
            }
        }
    }

    private static void QuantizeBlocks(ReadOnlySpan<float> values, Span<byte> blocks, int first, int count)
    {
        for (var b = first; b < first + count; b++)
            T.QuantizeBlock(values.Slice(b * T.BlockValues, T.BlockValues), blocks.Slice(b * T.BlockBytes, T.BlockBytes));
    }
}

/// <summary>The f16 fields quantizers write: ggml stores a scale as f16 (round to nearest even) and then quantises
/// against the f16 value read back, so both directions are needed.</summary>
internal static class HalfField
{
    public static void Write(Span<byte> block, int offset, float value) =>
        BinaryPrimitives.WriteUInt16LittleEndian(block[offset..], BitConverter.HalfToUInt16Bits((Half)value));

    public static float Read(ReadOnlySpan<byte> block, int offset) => (float)BlockRow.ReadHalf(block, offset);
}
