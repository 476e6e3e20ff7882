using Vib3.Core;

namespace Vib3.Kernels.Tests;

public class MatMulTests
{
    public static IEnumerable<object[]> Types() => TestData.AllTypes.Select(t => new object[] { t });

    private static void Compare(DType t, int rows, int cols, int n, Random rng)
    {
        var (bytes, wf) = TestData.Weights(rng, t, rows, cols);
        var x = TestData.Floats(rng, n * cols);
        var fast = new float[n * rows];
        var reference = new float[n * rows];
        MatMul.Compute(t, bytes, rows, cols, x, n, fast);
        MatMul.Reference(t, bytes, rows, cols, x, n, reference);
        var mv = new float[rows];
        for (var i = 0; i < n; i++)
        {
            var xi = x.AsSpan(i * cols, cols);
            MatVec.Compute(t, bytes, rows, cols, xi, mv);
            for (var r = 0; r < rows; r++)
            {
                // Same bound as MatVecTests (f32 summation order), doubled: fast vs MatVec are two such results.
                var abs = TestData.AbsDot(wf, r, cols, xi);
                var tol = 2e-5 * abs + 1e-30;
                var q8 = t.IsBlocked() ? TestData.Q8ActivationBound(t, wf, r, cols, xi) : 0;
                var got = fast[i * rows + r];
                Assert.True(Math.Abs((double)got - reference[i * rows + r]) <= tol + q8, $"{t} {rows}x{cols} n={n} [{i},{r}] vs reference");
                if (t.IsBlocked()) Assert.Equal(mv[r], got); // same quantisation and kernel: bit-identical
                else Assert.True(Math.Abs(got - mv[r]) <= 2 * tol, $"{t} {rows}x{cols} n={n} [{i},{r}]: {got} vs matvec {mv[r]}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void SmallShapes(DType t)
    {
        var rng = new Random(3);
        foreach (var cols in new[] { 0, 1, 15, 16, 17, 32, 33, 63, 64, 96, 256, 257, 512 })
        {
            if (cols % t.BlockSize() != 0) continue;
            foreach (var rows in new[] { 1, 3, 4, 5, 9 })
                foreach (var n in new[] { 0, 1, 2, 3, 4, 5, 8, 9 })
                    Compare(t, rows, cols, n, rng);
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void Multithreaded(DType t)
    {
        var rng = new Random(4);
        Compare(t, 203, 512, 7, rng);
        Compare(t, 64, 1024, 17, rng);
    }
}
