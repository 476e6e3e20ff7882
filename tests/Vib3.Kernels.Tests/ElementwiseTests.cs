namespace Vib3.Kernels.Tests;

public class ElementwiseTests
{
    private static void Close(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double rel, double abs, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs((double)expected[i] - actual[i]) <= rel * Math.Abs(expected[i]) + abs,
                $"{what}[{i}]: expected {expected[i]}, got {actual[i]}");
    }

    [Fact]
    public void RmsNorm_EveryLength()
    {
        var rng = new Random(1);
        for (var n = 0; n <= 257; n++)
        {
            var x = TestData.Floats(rng, n, 4f);
            var w = TestData.Floats(rng, n);
            var expected = new float[n];
            var actual = new float[n];
            RmsNorm.Reference(x, w, 1e-6f, expected);
            RmsNorm.Compute(x, w, 1e-6f, actual);
            // f32 vs double sum of squares (≤ n·2^-24 relative on the mean → half that on the scale) and 2 roundings.
            Close(expected, actual, 1e-5, 1e-30, $"rmsnorm n={n}");
            RmsNorm.Compute(x, w, 1e-6f, x); // aliased in place
            Close(expected, x, 1e-5, 1e-30, $"rmsnorm aliased n={n}");
        }
    }

    [Fact]
    public void Softmax_EveryLength()
    {
        var rng = new Random(2);
        for (var n = 0; n <= 257; n++)
        {
            var x = TestData.Floats(rng, n, 30f);
            var expected = (float[])x.Clone();
            Softmax.Reference(expected);
            Softmax.InPlace(x);
            // TensorPrimitives.Exp is within a few ulp of MathF.Exp; the f32 sum adds ≤ n·2^-24 relative.
            Close(expected, x, 2e-5, 1e-30, $"softmax n={n}");
            if (n > 0) Assert.InRange(x.Sum(), 0.9999f, 1.0001f);
        }
        var big = new[] { 1000f, 1000f, -1000f };
        Softmax.InPlace(big); // max subtraction: no overflow
        Assert.Equal(0.5f, big[0], 6);
    }

    [Fact]
    public void SwiGlu_EveryLength()
    {
        var rng = new Random(3);
        for (var n = 0; n <= 257; n++)
        {
            var g = TestData.Floats(rng, n, 12f);
            var u = TestData.Floats(rng, n, 3f);
            var expected = new float[n];
            SwiGlu.Reference(g, u, expected);
            var actual = new float[n];
            SwiGlu.Compute(g, u, actual);
            // sigmoid via TensorPrimitives (a few ulp) then two products: 1e-5 relative is ~100 ulp of headroom.
            Close(expected, actual, 1e-5, 1e-30, $"swiglu n={n}");
            SwiGlu.Compute(g, u, g); // y aliasing gate
            Close(expected, g, 1e-5, 1e-30, $"swiglu aliased n={n}");
        }
        var large = new float[3000];
        var up = new float[3000];
        Array.Fill(large, 2f); Array.Fill(up, 1f);
        SwiGlu.Compute(large, up, large); // crosses the internal chunk boundary
        Assert.All(large, v => Assert.Equal(2f / (1f + MathF.Exp(-2f)), v, 5));
    }

    [Fact]
    public void VectorOps_Work()
    {
        var rng = new Random(4);
        for (var n = 0; n <= 257; n++)
        {
            var a = TestData.Floats(rng, n);
            var acc = TestData.Floats(rng, n);
            var expected = new float[n];
            for (var i = 0; i < n; i++) expected[i] = acc[i] + 0.5f * a[i];
            var acc2 = (float[])acc.Clone();
            VectorOps.AddScaled(a, 0.5f, acc2);
            Close(expected, acc2, 1e-6, 1e-7, "addscaled");
            for (var i = 0; i < n; i++) expected[i] = acc[i] + a[i];
            VectorOps.Add(a, acc);
            Close(expected, acc, 0, 0, "add");
            double d = 0, da = 0;
            for (var i = 0; i < n; i++) { d += (double)a[i] * acc[i]; da += Math.Abs((double)a[i] * acc[i]); }
            Assert.True(Math.Abs(VectorOps.Dot(a, acc) - d) <= 1e-5 * da + 1e-30);
            VectorOps.Scale(acc, 2f);
            for (var i = 0; i < n; i++) Assert.Equal(2f * (expected[i]), acc[i]);
        }
    }

    [Fact]
    public void TopK_MatchesSortedOrder()
    {
        var rng = new Random(5);
        for (var n = 1; n <= 64; n++)
            for (var k = 0; k <= Math.Min(n, 9); k++)
            {
                // Few distinct values: lots of ties.
                var s = new float[n];
                for (var i = 0; i < n; i++) s[i] = rng.Next(5) - 2;
                var expected = Enumerable.Range(0, n).OrderByDescending(i => s[i]).ThenBy(i => i).Take(k).ToArray();
                var idx = new int[k];
                var val = new float[k];
                TopK.Select(s, k, idx, val);
                Assert.Equal(expected, idx);
                Assert.Equal(expected.Select(i => s[i]).ToArray(), val);
            }
        var withNaN = new[] { 1f, float.NaN, 3f, 2f };
        var ix = new int[3];
        TopK.Select(withNaN, 3, ix, new float[3]);
        Assert.Equal(new[] { 2, 3, 0 }, ix);
    }
}
