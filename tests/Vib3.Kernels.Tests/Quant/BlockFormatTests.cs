using Vib3.Core.Quant;

namespace Vib3.Kernels.Tests.Quant;

/// <summary>
/// The block-format dequantisers against ggml's own (bit for bit), on random blocks and on blocks llama.cpp's
/// quantizer made; the row dot against dequantise-then-dot; and the row checks a reader relies on.
/// </summary>
public class BlockFormatTests
{
    private const int BlocksPerSeed = 64;
    private static readonly int[] Seeds = [1, 2, 3, 4];

    [Theory]
    [MemberData(nameof(BlockFormatCase.Names), MemberType = typeof(BlockFormatCase))]
    public void Layout_MatchesGgmlTypeTraits(string name)
    {
        var f = BlockFormatCase.Get(name);
        var type = GgmlReference.TypeId(name);
        Assert.Equal(name, GgmlReference.TypeName(type));
        Assert.Equal(f.BlockValues, GgmlReference.BlockValues(type));
        Assert.Equal((nuint)f.BlockBytes, GgmlReference.BlockBytes(type));
    }

    [Theory]
    [MemberData(nameof(BlockFormatCase.Names), MemberType = typeof(BlockFormatCase))]
    public void Dequantize_RandomBlocks_BitExactWithGgml(string name)
    {
        var f = BlockFormatCase.Get(name);
        foreach (var seed in Seeds)
        {
            var blocks = f.RandomBlocks(new Random(seed), BlocksPerSeed);
            AssertBitExact(f, blocks, BlocksPerSeed * f.BlockValues, $"seed {seed}");
        }
    }

    [Theory]
    [MemberData(nameof(BlockFormatCase.Names), MemberType = typeof(BlockFormatCase))]
    public void Dequantize_RowsQuantisedByLlamaCpp_BitExactWithGgml(string name)
    {
        var f = BlockFormatCase.Get(name);
        const int rows = 8, cols = 1024;
        // The ternary types only represent {−1, 0, +1}·scale (weights trained that way); give them such rows, which
        // they hold almost exactly, and the others Gaussian rows.
        var ternary = name.StartsWith("tq", StringComparison.Ordinal);
        // Below 2.5 bits per weight (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS) a Gaussian row with outliers keeps only its
        // rough shape; a decoder reading the wrong format would still be far off (relative error ≈ √2 or worse).
        var bitsPerWeight = 8.0 * f.BlockBytes / f.BlockValues;
        var maxError = ternary ? 0.01 : bitsPerWeight < 2.5 ? 0.75 : 0.5;
        foreach (var seed in Seeds)
        {
            var rng = new Random(seed);
            var x = new float[rows * cols];
            for (var r = 0; r < rows; r++)
            {
                // Rows of very different magnitudes, with outliers, as real weight matrices have.
                var scale = MathF.Pow(10, rng.Next(-4, 3));
                for (var c = 0; c < cols; c++)
                    x[r * cols + c] = ternary ? rng.Next(-1, 2) * scale : Gaussian(rng) * scale * (c % 97 == 0 ? 8 : 1);
            }
            var byteCount = rows * cols / f.BlockValues * f.BlockBytes;
            var (blocks, written) = GgmlReference.Quantize(name, x, rows, byteCount);
            Assert.Equal((nuint)byteCount, written);
            var mine = AssertBitExact(f, blocks, x.Length, $"seed {seed}");
            // The round trip really is this format (a wrong type id would decode noise): error well under the signal.
            double err = 0, sig = 0;
            for (var i = 0; i < x.Length; i++) { err += Math.Pow(mine[i] - x[i], 2); sig += (double)x[i] * x[i]; }
            Assert.True(Math.Sqrt(err / sig) < maxError, $"{name} seed {seed}: relative rms error {Math.Sqrt(err / sig)}");
        }
    }

    [Theory]
    [MemberData(nameof(BlockFormatCase.Names), MemberType = typeof(BlockFormatCase))]
    public void Dot_MatchesDequantiseThenDot(string name)
    {
        var f = BlockFormatCase.Get(name);
        foreach (var seed in Seeds)
        {
            var rng = new Random(seed);
            foreach (var blockCount in new[] { 1, 3, 16 })
            {
                var n = blockCount * f.BlockValues;
                var row = f.RandomBlocks(rng, blockCount);
                var x = TestData.Floats(rng, n);
                var w = new float[n];
                f.Dequantize(row, w);
                double exact = 0, bound = 0;
                var q = new sbyte[f.BlockValues];
                var scales = new float[f.BlockValues / f.SubBlockValues];
                var mins = new float[scales.Length];
                for (var b = 0; b < blockCount; b++)
                {
                    f.Unpack(row.AsSpan(b * f.BlockBytes, f.BlockBytes), q, scales, mins);
                    for (var i = 0; i < f.BlockValues; i++)
                    {
                        var k = b * f.BlockValues + i;
                        var s = i / f.SubBlockValues;
                        exact += (double)w[k] * x[k];
                        // Both sums round in f32: error ≤ ~n·2^-24 of the magnitudes summed, here scale·q·x and min·x.
                        bound += Math.Abs((double)scales[s] * q[i] * x[k]) + Math.Abs((double)mins[s] * x[k]);
                    }
                }
                var got = f.Dot(row, x);
                Assert.True(Math.Abs(got - exact) <= 1e-5 * bound + 1e-30,
                    $"{name} seed {seed} {blockCount} blocks: dot {got}, dequantise-then-dot {exact}, bound {1e-5 * bound}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(BlockFormatCase.Q8KPaired), MemberType = typeof(BlockFormatCase))]
    public void Dot_AgreesWithLlamaCppsQ8KDot(string name)
    {
        var f = BlockFormatCase.Get(name);
        foreach (var seed in Seeds)
        {
            var rng = new Random(seed);
            const int blockCount = 8;
            var n = blockCount * f.BlockValues;
            var row = f.RandomBlocks(rng, blockCount);
            var x = TestData.Floats(rng, n);
            var xq = new byte[blockCount * Q8K.BlockBytes];
            Q8K.Quantize(x, xq);
            var w = new float[n];
            f.Dequantize(row, w);
            // llama.cpp sees x̂ = d·q, each within d/2 of x (d = amax/127 per 256 values), then rounds in f32 as vib3 does.
            double bound = 0;
            for (var i = 0; i < n; i++)
            {
                var d = Math.Abs(BitConverter.ToSingle(xq, i / Q8K.BlockValues * Q8K.BlockBytes));
                bound += Math.Abs((double)w[i]) * (0.501 * d + 1e-5 * Math.Abs(x[i]));
            }
            var ours = f.Dot(row, x);
            var llama = GgmlReference.VecDotQ8K(name, row, xq, n);
            Assert.True(Math.Abs(ours - llama) <= bound,
                $"{name} seed {seed}: vib3 {ours}, llama.cpp {llama}, allowed {bound}");
        }
    }

    [Theory]
    [MemberData(nameof(BlockFormatCase.Names), MemberType = typeof(BlockFormatCase))]
    public void FirstNonFiniteBlock_NamesTheBlockWithANaNOrInfiniteScale(string name)
    {
        var f = BlockFormatCase.Get(name);
        var blocks = f.RandomBlocks(new Random(7), 10);
        Assert.Equal(-1, f.FirstNonFiniteBlock(blocks));
        foreach (var field in f.ScaleFields)
        foreach (var bad in new[] { Half.NaN, Half.PositiveInfinity, Half.NegativeInfinity })
        {
            var copy = (byte[])blocks.Clone();
            field(copy.AsSpan(6 * f.BlockBytes, f.BlockBytes), bad);
            field(copy.AsSpan(8 * f.BlockBytes, f.BlockBytes), bad);
            Assert.Equal(6, f.FirstNonFiniteBlock(copy));
        }
        var ex = Assert.Throws<ArgumentException>(() => f.FirstNonFiniteBlock(blocks[..^1]));
        Assert.Contains(name, ex.Message);
    }

    [Theory]
    [MemberData(nameof(BlockFormatCase.Names), MemberType = typeof(BlockFormatCase))]
    public void Rows_NotAWholeNumberOfBlocks_AreRefusedNamingTheType(string name)
    {
        var f = BlockFormatCase.Get(name);
        var blocks = f.RandomBlocks(new Random(3), 2);
        var partial = Assert.Throws<ArgumentException>(() => f.Dequantize(blocks, new float[f.BlockValues + 1]));
        Assert.Contains(name, partial.Message);
        var tooShort = Assert.Throws<ArgumentException>(() => f.Dot(blocks.AsSpan(0, f.BlockBytes * 2 - 1), new float[2 * f.BlockValues]));
        Assert.Contains(name, tooShort.Message);
    }

    /// <summary>Dequantises with vib3 and with ggml and asserts every value has the same bits; returns vib3's.</summary>
    private static float[] AssertBitExact(BlockFormatCase f, byte[] blocks, int values, string what)
    {
        var mine = new float[values];
        f.Dequantize(blocks, mine);
        var ggml = GgmlReference.Dequantize(f.Name, blocks, values);
        for (var i = 0; i < values; i++)
            if (BitConverter.SingleToInt32Bits(mine[i]) != BitConverter.SingleToInt32Bits(ggml[i]))
                Assert.Fail($"{f.Name} {what}: value {i} (block {i / f.BlockValues}, offset {i % f.BlockValues}) is {mine[i]:R}, ggml {ggml[i]:R}");
        return mine;
    }

    private static float Gaussian(Random rng) =>
        (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
}
