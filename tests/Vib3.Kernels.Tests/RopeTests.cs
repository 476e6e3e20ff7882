namespace Vib3.Kernels.Tests;

public class RopeTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FastEqualsReference_BitForBit(bool neox)
    {
        var rng = new Random(1);
        foreach (var hd in new[] { 2, 4, 64, 128 })
            foreach (var pos in new[] { 0, 1, 2, 17, 511, 4095, 100000 })
            {
                const int heads = 3;
                var a = TestData.Floats(rng, heads * hd, 2f);
                var b = (float[])a.Clone();
                if (neox) { Rope.Neox(a, heads, hd, pos, 10000f); Rope.ReferenceNeox(b, heads, hd, pos, 10000f); }
                else { Rope.Normal(a, heads, hd, pos, 10000f); Rope.ReferenceNormal(b, heads, hd, pos, 10000f); }
                Assert.Equal(b, a);
            }
    }

    /// <summary>Against the exact rotation (angles and products in double). ggml's f32 angle recurrence
    /// theta_i = pos·s^i (i f32 multiplications, s = powf(base, −2/d) itself ≤ 1 ulp off) has relative error
    /// ≲ (i+2)·2^-24·(1 + i) — the s error compounds i times — so the angle is off by up to θ_i·(i+2)²·2^-24 rad;
    /// cos/sin and the rotation add a few 2^-24. The bound below is that, times |x0|+|x1|.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void MatchesDoublePrecisionRotation(bool neox)
    {
        var rng = new Random(2);
        const double eps = 1.0 / (1 << 24);
        foreach (var hd in new[] { 64, 128 })
            foreach (var pos in new[] { 0, 1, 7, 300, 4095 })
                foreach (var theta in new[] { 10000f, 1000000f })
                {
                    const int heads = 2;
                    var x = TestData.Floats(rng, heads * hd);
                    var y = (float[])x.Clone();
                    if (neox) Rope.Neox(y, heads, hd, pos, theta); else Rope.Normal(y, heads, hd, pos, theta);
                    var half = hd / 2;
                    for (var h = 0; h < heads; h++)
                        for (var i = 0; i < half; i++)
                        {
                            var ang = pos * Math.Pow(theta, -2.0 * i / hd);
                            int i0 = h * hd + (neox ? i : 2 * i), i1 = h * hd + (neox ? i + half : 2 * i + 1);
                            double x0 = x[i0], x1 = x[i1];
                            var e0 = x0 * Math.Cos(ang) - x1 * Math.Sin(ang);
                            var e1 = x0 * Math.Sin(ang) + x1 * Math.Cos(ang);
                            var tol = (Math.Abs(x0) + Math.Abs(x1)) * (ang * (i + 2) * (i + 2) * eps + 8 * eps);
                            Assert.True(Math.Abs(y[i0] - e0) <= tol, $"hd={hd} pos={pos} i={i}: {y[i0]} vs {e0} tol {tol}");
                            Assert.True(Math.Abs(y[i1] - e1) <= tol, $"hd={hd} pos={pos} i={i}: {y[i1]} vs {e1} tol {tol}");
                        }
                }
    }

    [Fact]
    public void PositionZeroIsIdentity()
    {
        var x = TestData.Floats(new Random(3), 128);
        var y = (float[])x.Clone();
        Rope.Normal(y, 1, 128, 0, 10000f);
        Assert.Equal(x, y);
    }
}
