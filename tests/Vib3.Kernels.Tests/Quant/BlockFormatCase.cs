using Vib3.Core.Quant;

namespace Vib3.Kernels.Tests.Quant;

/// <summary>One block format's entry points, reached by name, so every test runs as a theory over all formats.</summary>
internal sealed record BlockFormatCase(
    string Name,
    int BlockValues,
    int BlockBytes,
    int SubBlockValues,
    int[] HalfOffsets,
    BlockFormatCase.DequantizeFn Dequantize,
    BlockFormatCase.DotFn Dot,
    BlockFormatCase.UnpackFn Unpack,
    Func<byte[], long> FirstNonFiniteBlock)
{
    public delegate void DequantizeFn(ReadOnlySpan<byte> row, Span<float> dst);
    public delegate float DotFn(ReadOnlySpan<byte> row, ReadOnlySpan<float> x);
    public delegate void UnpackFn(ReadOnlySpan<byte> block, Span<sbyte> q, Span<float> scales, Span<float> mins);

    public static readonly TheoryData<string> Names = new("q2_K", "q3_K", "q4_K", "q5_K", "q6_K", "iq4_nl", "iq4_xs", "tq1_0", "tq2_0");

    /// <summary>The formats llama.cpp multiplies against Q8_K activations (IQ4_NL pairs with Q8_0 instead).</summary>
    public static readonly TheoryData<string> Q8KPaired = new("q2_K", "q3_K", "q4_K", "q5_K", "q6_K", "iq4_xs", "tq1_0", "tq2_0");

    public static BlockFormatCase Get(string name) => name switch
    {
        "q2_K" => Of<Q2K>(),
        "q3_K" => Of<Q3K>(),
        "q4_K" => Of<Q4K>(),
        "q5_K" => Of<Q5K>(),
        "q6_K" => Of<Q6K>(),
        "iq4_nl" => Of<IQ4NL>(),
        "iq4_xs" => Of<IQ4XS>(),
        "tq1_0" => Of<TQ1_0>(),
        "tq2_0" => Of<TQ2_0>(),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };

    private static BlockFormatCase Of<T>() where T : IBlockFormat => new(
        T.Name, T.BlockValues, T.BlockBytes, T.SubBlockValues, T.HalfOffsets.ToArray(),
        BlockRow.Dequantize<T>, BlockRow.Dot<T>, T.Unpack, b => BlockRow.FirstNonFiniteBlock<T>(b));

    /// <summary><paramref name="blocks"/> blocks of random bytes whose f16 scale fields hold finite random halves
    /// (signs, normals and subnormals): every bit pattern the quant fields can take, with scales a reader accepts.</summary>
    public byte[] RandomBlocks(Random rng, int blocks)
    {
        var bytes = new byte[blocks * BlockBytes];
        rng.NextBytes(bytes);
        for (var b = 0; b < blocks; b++)
            foreach (var offset in HalfOffsets)
                WriteHalf(bytes, b * BlockBytes + offset, RandomFiniteHalf(rng));
        return bytes;
    }

    public static void WriteHalf(byte[] bytes, int offset, Half h) =>
        BitConverter.TryWriteBytes(bytes.AsSpan(offset), BitConverter.HalfToUInt16Bits(h));

    private static Half RandomFiniteHalf(Random rng)
    {
        while (true)
        {
            var h = BitConverter.UInt16BitsToHalf((ushort)rng.Next(0x10000));
            if (Half.IsFinite(h)) return h;
        }
    }
}
