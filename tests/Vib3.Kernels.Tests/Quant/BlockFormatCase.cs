using Vib3.Core.Quant;

namespace Vib3.Kernels.Tests.Quant;

/// <summary>One block format's entry points, reached by name, so every test runs as a theory over all formats.</summary>
internal sealed record BlockFormatCase(
    string Name,
    int BlockValues,
    int BlockBytes,
    int SubBlockValues,
    BlockFormatCase.ScaleField[] ScaleFields,
    BlockFormatCase.DequantizeFn Dequantize,
    BlockFormatCase.DotFn Dot,
    BlockFormatCase.UnpackFn Unpack,
    Func<byte[], long> FirstNonFiniteBlock)
{
    public delegate void DequantizeFn(ReadOnlySpan<byte> row, Span<float> dst);
    public delegate float DotFn(ReadOnlySpan<byte> row, ReadOnlySpan<float> x);
    public delegate void UnpackFn(ReadOnlySpan<byte> block, Span<sbyte> q, Span<float> scales, Span<float> mins);

    /// <summary>Stores <paramref name="value"/> as one of a block's f16 super-scales.</summary>
    public delegate void ScaleField(Span<byte> block, Half value);

    public static readonly TheoryData<string> Names = new("q2_K", "q3_K", "q4_K", "q5_K", "q6_K", "iq4_nl", "iq4_xs", "tq1_0", "tq2_0",
        "iq2_xxs", "iq2_xs", "iq2_s", "iq3_xxs", "iq3_s", "iq1_s", "iq1_m");

    /// <summary>The formats llama.cpp multiplies against Q8_K activations (IQ4_NL pairs with Q8_0 instead).</summary>
    public static readonly TheoryData<string> Q8KPaired = new("q2_K", "q3_K", "q4_K", "q5_K", "q6_K", "iq4_xs", "tq1_0", "tq2_0",
        "iq2_xxs", "iq2_xs", "iq2_s", "iq3_xxs", "iq3_s", "iq1_s", "iq1_m");

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
        "iq2_xxs" => Of<IQ2XXS>(),
        "iq2_xs" => Of<IQ2XS>(),
        "iq2_s" => Of<IQ2S>(),
        "iq3_xxs" => Of<IQ3XXS>(),
        "iq3_s" => Of<IQ3S>(),
        "iq1_s" => Of<IQ1S>(),
        "iq1_m" => Of<IQ1M>([WriteIQ1MScale]),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };

    /// <summary>The case of format <typeparamref name="T"/>: its super-scales are the f16 fields at its HalfOffsets,
    /// or, for a format that scatters one over the block, <paramref name="scattered"/>.</summary>
    private static BlockFormatCase Of<T>(ScaleField[]? scattered = null) where T : IBlockFormat => new(
        T.Name, T.BlockValues, T.BlockBytes, T.SubBlockValues,
        scattered ?? T.HalfOffsets.ToArray().Select(AtOffset).ToArray(),
        BlockRow.Dequantize<T>, BlockRow.Dot<T>, T.Unpack, b => BlockRow.FirstNonFiniteBlock<T>(b));

    private static ScaleField AtOffset(int offset) => (block, value) => WriteHalf(block[offset..], value);

    /// <summary>IQ1_M's d: bits 4i…4i+3 of its f16 are the top nibble of the little-endian scale word at 48 + 2i.</summary>
    private static void WriteIQ1MScale(Span<byte> block, Half value)
    {
        var bits = BitConverter.HalfToUInt16Bits(value);
        for (var i = 0; i < 4; i++)
        {
            var high = block[48 + 2 * i + 1];
            block[48 + 2 * i + 1] = (byte)((high & 0x0F) | ((bits >> (4 * i)) & 0xF) << 4);
        }
    }

    /// <summary><paramref name="blocks"/> blocks of random bytes whose f16 scale fields hold finite random halves
    /// (signs, normals and subnormals): every bit pattern the quant fields can take, with scales a reader accepts.</summary>
    public byte[] RandomBlocks(Random rng, int blocks)
    {
        var bytes = new byte[blocks * BlockBytes];
        rng.NextBytes(bytes);
        for (var b = 0; b < blocks; b++)
            foreach (var field in ScaleFields)
                field(bytes.AsSpan(b * BlockBytes, BlockBytes), RandomFiniteHalf(rng));
        return bytes;
    }

    public static void WriteHalf(Span<byte> bytes, Half h) =>
        BitConverter.TryWriteBytes(bytes, BitConverter.HalfToUInt16Bits(h));

    private static Half RandomFiniteHalf(Random rng)
    {
        while (true)
        {
            var h = BitConverter.UInt16BitsToHalf((ushort)rng.Next(0x10000));
            if (Half.IsFinite(h)) return h;
        }
    }
}
