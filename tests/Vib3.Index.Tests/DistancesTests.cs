namespace Vib3.Index.Tests;

public sealed class DistancesTests
{
    [Fact]
    public void Simd_matches_the_scalar_reference_at_every_tail_length()
    {
        var random = new Random(7);
        for (var n = 1; n <= 70; n++)
        {
            var a = new float[n];
            var b = new float[n];
            for (var i = 0; i < n; i++)
            {
                a[i] = (float)(random.NextDouble() * 4 - 2);
                b[i] = (float)(random.NextDouble() * 4 - 2);
            }
            // Tolerance relative to the sum of |terms|: float accumulation in a different order, nothing more.
            var magnitude = 0d;
            for (var i = 0; i < n; i++) magnitude += Math.Abs((double)a[i] * b[i]) + ((double)a[i] - b[i]) * (a[i] - b[i]);
            var tolerance = 1e-6 * magnitude + 1e-7;
            Assert.True(Math.Abs(Distances.Dot(a, b) - Distances.DotScalar(a, b)) <= tolerance, $"dot, length {n}");
            Assert.True(Math.Abs(Distances.SquaredL2(a, b) - Distances.SquaredL2Scalar(a, b)) <= tolerance, $"squared L2, length {n}");
            // Slices that start mid-array: unaligned loads.
            if (n > 3)
                Assert.True(Math.Abs(Distances.Dot(a.AsSpan(1), b.AsSpan(0, n - 1)) - Distances.DotScalar(a.AsSpan(1), b.AsSpan(0, n - 1))) <= tolerance,
                    $"unaligned dot, length {n - 1}");
        }
    }

    [Fact]
    public void Scores_follow_the_metric()
    {
        float[] a = [1, 2, 3], b = [4, 5, 6];
        Assert.Equal(32f, Distances.Score(VectorMetric.InnerProduct, a, b));
        Assert.Equal(-27f, Distances.Score(VectorMetric.L2, a, b));
        Assert.Throws<ArgumentException>(() => Distances.Dot(a, [1f, 2f]));
    }
}
