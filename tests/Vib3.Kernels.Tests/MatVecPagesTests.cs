using Vib3.Core;

namespace Vib3.Kernels.Tests;

/// <summary>A matrix spread over pages and computed as one job (<see cref="MatVec.Compute(DType, IReadOnlyList{RowPage}, int, MatVecInput, Span{float})"/>)
/// gives every row the bits the whole matrix gives in one call: pages of uneven row counts, handed over in any order,
/// small enough for one thread and large enough for the pool (chunks then cross page boundaries).</summary>
public class MatVecPagesTests
{
    public static IEnumerable<object[]> Types() => TestData.AllTypes.Select(t => new object[] { t });

    [Theory]
    [MemberData(nameof(Types))]
    public void Pages_InAnyOrder_EqualTheWholeMatrix_BitForBit(DType t)
    {
        var rng = new Random(21 + (int)t);
        const int cols = 512;
        var x = TestData.Floats(rng, cols);
        var input = new MatVecInput(cols);
        input.Set(x);
        foreach (var split in new[] { new[] { 3, 1, 2 }, new[] { 700, 1, 299, 64 } }) // the second is above ParallelBytes
        {
            var rows = split.Sum();
            var (w, _) = TestData.Weights(rng, t, rows, cols);
            var whole = new float[rows];
            MatVec.Compute(t, w, rows, cols, x, whole);

            var rowBytes = (int)t.ByteCount(cols);
            var pages = new List<RowPage>();
            var first = 0;
            foreach (var n in split)
            {
                pages.Add(new RowPage(w.AsMemory(first * rowBytes, n * rowBytes), first, n));
                first += n;
            }
            pages.Reverse(); // the order reads complete in, not the rows'
            var paged = new float[rows + 3]; // longer than the matrix: only its rows are written
            paged.AsSpan().Fill(float.NaN);
            MatVec.Compute(t, pages, cols, input, paged);
            for (var r = 0; r < rows; r++)
                Assert.True(BitConverter.SingleToInt32Bits(whole[r]) == BitConverter.SingleToInt32Bits(paged[r]),
                    $"{t} pages [{string.Join(",", split)}] row {r}: whole {whole[r]}, paged {paged[r]}");
            Assert.All(paged[rows..], v => Assert.True(float.IsNaN(v)));
        }
    }

    [Fact]
    public void APageWhoseRowsFallOutsideY_IsRefused()
    {
        var rng = new Random(3);
        var (w, _) = TestData.Weights(rng, DType.Q8_0, 4, 64);
        var input = new MatVecInput(64);
        input.Set(TestData.Floats(rng, 64));
        var e = Assert.Throws<ArgumentException>(() => MatVec.Compute(DType.Q8_0, [new RowPage(w, 2, 4)], 64, input, new float[5]));
        Assert.Contains("outside y", e.Message);
    }

    [Fact]
    public void APageShorterThanItsRows_IsRefused()
    {
        var rng = new Random(4);
        var (w, _) = TestData.Weights(rng, DType.Q8_0, 4, 64);
        var input = new MatVecInput(64);
        input.Set(TestData.Floats(rng, 64));
        Assert.ThrowsAny<ArgumentException>(() => MatVec.Compute(DType.Q8_0, [new RowPage(w.AsMemory(0, w.Length - 1), 0, 4)], 64, input, new float[4]));
    }
}
