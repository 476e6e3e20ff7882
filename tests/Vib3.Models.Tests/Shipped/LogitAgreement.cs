namespace Vib3.Models.Tests.Shipped;

/// <summary>Per-position agreement of two logit tables: the worst |Δlogit| relative to the position's largest
/// |logit| (the measure <see cref="Forward.LlamaCppDifferentialTests"/> bounds), and whether argmaxes agree.</summary>
internal static class LogitAgreement
{
    public static (float MaxAbs, float MaxRelative) Worst(float[][] expected, float[][] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        float maxAbs = 0, maxRel = 0;
        for (var p = 0; p < expected.Length; p++)
        {
            Assert.Equal(expected[p].Length, actual[p].Length);
            var scale = expected[p].Max(MathF.Abs);
            var worst = expected[p].Zip(actual[p], (a, b) => MathF.Abs(a - b)).Max();
            maxAbs = MathF.Max(maxAbs, worst);
            maxRel = MathF.Max(maxRel, worst / scale);
        }
        return (maxAbs, maxRel);
    }

    public static void SameArgmax(float[][] expected, float[][] actual)
    {
        for (var p = 0; p < expected.Length; p++)
            Assert.True(Kernels.VectorOps.ArgMax(expected[p]) == Kernels.VectorOps.ArgMax(actual[p]), $"argmax differs at position {p}");
    }
}
