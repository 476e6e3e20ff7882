namespace Vib3.Kernels.Tests;

/// <summary><see cref="WeightedRows"/>: Σ_t p[j, t] · row_t, the vector tiles and the column tail against the
/// element-by-element definition, bit for bit, at every query count around the four-query tile, widths around the
/// 32-float tile, strided rows, and a size that runs on several threads.</summary>
public class WeightedRowsTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(31)]
    [InlineData(32)]
    [InlineData(33)]
    [InlineData(64)]
    [InlineData(100)]
    public void Every_query_count_and_width_equals_the_definition(int width)
    {
        var rng = new Random(width);
        foreach (var count in new[] { 1, 2, 7, 33 })
            foreach (var gap in new[] { 0, 3 })
                for (var n = 1; n <= 9; n++)
                    Compare(rng, n, count, width, width + gap);
    }

    [Fact]
    public void A_decode_sized_call_on_several_threads_equals_the_definition() => Compare(new Random(3), 64, 300, 512, 576);

    [Fact]
    public void No_rows_give_zeros()
    {
        var output = Enumerable.Repeat(7f, 6).ToArray();
        WeightedRows.Compute([], 2, 0, [], 3, 3, output);
        Assert.All(output, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Arguments_that_do_not_fit_are_named()
    {
        var p = new float[8];
        var rows = new float[16];
        var output = new float[16];
        Assert.Equal("stride", Assert.ThrowsAny<ArgumentException>(() => WeightedRows.Compute(p, 2, 4, rows, 3, 4, output)).ParamName);
        Assert.Equal("p", Assert.ThrowsAny<ArgumentException>(() => WeightedRows.Compute(p, 3, 4, rows, 4, 4, output)).ParamName);
        Assert.Equal("rows", Assert.ThrowsAny<ArgumentException>(() => WeightedRows.Compute(p, 2, 4, rows, 5, 4, output)).ParamName);
        Assert.Equal("output", Assert.ThrowsAny<ArgumentException>(() => WeightedRows.Compute(p, 2, 4, rows, 4, 4, new float[7])).ParamName);
    }

    private static void Compare(Random rng, int n, int count, int width, int stride)
    {
        var p = TestData.Floats(rng, n * count);
        var rows = TestData.Floats(rng, (count - 1) * stride + width);
        var expected = new float[n * width];
        var got = Enumerable.Repeat(float.NaN, n * width).ToArray();
        WeightedRows.Reference(p, n, count, rows, stride, width, expected);
        WeightedRows.Compute(p, n, count, rows, stride, width, got);
        for (var i = 0; i < expected.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(got[i]),
                $"n={n} count={count} width={width} stride={stride} element {i}: {got[i]} vs {expected[i]}");
    }
}
