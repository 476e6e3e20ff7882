using System.Runtime.Intrinsics.X86;
using Vib3.Core;
using Vib3.Core.Quant;
using Vib3.Kernels.Quant;

namespace Vib3.Kernels.Tests.Quant;

/// <summary>
/// The interleaved form of Q4_K, Q5_K and Q6_K matrices (<see cref="InterleavedMatrix"/>): it holds every quant, scale and
/// super-scale of the plain rows (interleaving then de-interleaving gives the bytes back), and the tile kernel on it
/// gives the row kernel's bits on the plain rows for any number of inputs and any width.
/// </summary>
public unsafe class InterleavedFormTests
{
    private const int Rows = KQuantTiles.Rows;

    public static readonly TheoryData<string> Types = new("q4_K", "q5_K", "q6_K");

    [Theory]
    [MemberData(nameof(Types))]
    public void Interleaving_KeepsEveryQuant_AndGivesTheBytesBack(string name)
    {
        Assert.SkipUnless(Avx512Vbmi.IsSupported, "the interleaved form needs AVX-512 VBMI");
        var (t, f) = (DTypes.Parse(name), BlockFormatCase.Get(name));
        const int rows = 3 * Rows + 5, blocks = 3; // a tail of five rows stays as stored
        var plain = f.RandomBlocks(new Random(31), rows * blocks);
        var matrix = (byte[])plain.Clone();
        InterleavedMatrix.Interleave(t, matrix, rows, blocks * Q8K.BlockValues);
        Assert.NotEqual(plain, matrix);
        fixed (byte* pp = plain)
        fixed (byte* pm = matrix)
        {
            var rowBytes = blocks * f.BlockBytes;
            Assert.True(new ReadOnlySpan<byte>(pp + 3 * Rows * rowBytes, 5 * rowBytes).SequenceEqual(new ReadOnlySpan<byte>(pm + 3 * Rows * rowBytes, 5 * rowBytes)));
            for (var g = 0; g < rows / Rows; g++)
                for (var b = 0; b < blocks; b++)
                {
                    var src = pm + g * Rows * rowBytes + b * Rows * f.BlockBytes;
                    for (var r = 0; r < Rows; r++)
                    {
                        var block = pp + (g * Rows + r) * rowBytes + b * f.BlockBytes;
                        for (var p = 0; p < Q8K.BlockValues; p++)
                        {
                            var (expected, actual) = t switch
                            {
                                DType.Q4_K => (Q4KDot.Quant(block, p), Q4KDot.QuantAt(src, r, p)),
                                DType.Q5_K => (Q5KDot.Quant(block, p), Q5KDot.QuantAt(src, r, p)),
                                _ => (Q6KDot.Quant(block, p), Q6KDot.QuantAt(src, r, p)),
                            };
                            Assert.True(expected == actual, $"group {g} block {b} row {r} value {p}: {actual}, plain {expected}");
                        }
                    }
                }
        }
        InterleavedMatrix.Deinterleave(t, matrix, rows, blocks * Q8K.BlockValues);
        Assert.Equal(plain, matrix);
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void TileKernelOnInterleavedRows_SameBitsAsRowKernel_AnyInputsAnyWidth(string name)
    {
        Assert.SkipUnless(Avx512Vbmi.IsSupported, "the interleaved form needs AVX-512 VBMI");
        var (t, f) = (DTypes.Parse(name), BlockFormatCase.Get(name));
        var rng = new Random(41);
        var rowKernel = KQuantDots.For(t);
        var tile = KQuantTiles.Interleaved(t);
        foreach (var blocks in new[] { 1, 3, 8, 9, 17 })
            foreach (var n in new[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 32, 33 })
            {
                const int rows = 2 * Rows;
                var plain = f.RandomBlocks(rng, rows * blocks);
                var matrix = (byte[])plain.Clone();
                InterleavedMatrix.Interleave(t, matrix, rows, blocks * Q8K.BlockValues);
                var x = KQuantDotTests.Activations(rng, n, blocks);
                long stride = blocks * Q8K.BlockBytes, rowBytes = blocks * f.BlockBytes;
                var y = new float[n * rows];
                fixed (byte* pp = plain)
                fixed (byte* pm = matrix)
                fixed (byte* px = x)
                fixed (float* py = y)
                {
                    for (var g = 0; g < rows / Rows; g++) tile(pm + g * Rows * rowBytes, px, stride, n, blocks, py + g * Rows, rows);
                    for (var k = 0; k < n; k++)
                        for (var r = 0; r < rows; r++)
                        {
                            float expected;
                            rowKernel(IntegerTier.Avx512, pp + r * rowBytes, px + k * stride, 0, 1, blocks, &expected);
                            Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(py[k * rows + r]),
                                $"{blocks} blocks, {n} inputs: input {k} row {r}: {py[k * rows + r]}, row kernel {expected}");
                        }
                }
            }
    }

    /// <summary>The public entry points on interleaved weights (<see cref="WeightLayout.Interleaved"/>) against the
    /// same matrix in rows: matrices large enough to be split over the kernel threads, with and without a tail of rows
    /// after the last whole group, one input (MatVec, also over several pages) and 1–33 (MatMul), bit for bit.</summary>
    [Theory]
    [InlineData("q4_K", 512)]
    [InlineData("q6_K", 512)]
    [InlineData("q5_K", 512)]
    [InlineData("q4_K", 517)]
    [InlineData("q5_K", 515)]
    [InlineData("q6_K", 523)]
    public void MatVecAndMatMul_OnInterleavedWeights_SameBitsAsOnRows(string name, int rows)
    {
        Assert.SkipUnless(Avx512Vbmi.IsSupported, "the interleaved form needs AVX-512 VBMI");
        var (t, f) = (DTypes.Parse(name), BlockFormatCase.Get(name));
        const int cols = 1024;
        var rng = new Random(51);
        var plain = f.RandomBlocks(rng, rows * cols / Q8K.BlockValues);
        var matrix = (byte[])plain.Clone();
        InterleavedMatrix.Interleave(t, matrix, rows, cols);
        var x = new float[33 * cols];
        for (var i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        var input = new MatVecInput(cols);
        input.Set(x.AsSpan(0, cols));
        float[] expected = new float[rows], actual = new float[rows];
        MatVec.Compute(t, plain, rows, cols, input, expected);
        MatVec.Compute(t, WeightLayout.Interleaved, matrix, rows, cols, input, actual);
        Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), actual.Select(BitConverter.SingleToInt32Bits));
        // The same rows as three pages, each interleaved on its own (the last with the tail).
        var rowBytes = (int)t.ByteCount(cols);
        int[] pageRows = [200, 160, rows - 360];
        var pages = new List<RowPage>();
        for (int i = 0, first = 0; i < pageRows.Length; first += pageRows[i++])
        {
            var page = plain.AsSpan(first * rowBytes, pageRows[i] * rowBytes).ToArray();
            InterleavedMatrix.Interleave(t, page, pageRows[i], cols);
            pages.Add(new RowPage(page, first, pageRows[i]));
        }
        actual = new float[rows];
        MatVec.Compute(t, WeightLayout.Interleaved, pages, cols, input, actual);
        Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), actual.Select(BitConverter.SingleToInt32Bits));
        foreach (var n in new[] { 1, 2, 3, 4, 5, 8, 9, 16, 33 })
        {
            expected = new float[n * rows];
            actual = new float[n * rows];
            MatMul.Compute(t, plain, rows, cols, x.AsSpan(0, n * cols), n, expected);
            MatMul.Compute(t, WeightLayout.Interleaved, matrix, rows, cols, x.AsSpan(0, n * cols), n, actual);
            Assert.True(expected.Select(BitConverter.SingleToInt32Bits).SequenceEqual(actual.Select(BitConverter.SingleToInt32Bits)), $"{n} inputs");
        }
    }
}
