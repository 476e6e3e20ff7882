namespace Vib3.Models.Tests.Forward;

/// <summary>The device tests' measure of agreement with the CPU path.</summary>
internal static class DeviceLogits
{
    /// <summary>Each position's logits within 1e-4 · max |logit| of the CPU's, with the same argmax.</summary>
    public static void AssertClose(float[][] expected, float[][] actual, string what)
    {
        for (var p = 0; p < expected.Length; p++)
        {
            var scale = expected[p].Max(MathF.Abs);
            var worst = expected[p].Zip(actual[p], (x, y) => MathF.Abs(x - y)).Max();
            Assert.True(worst <= 1e-4f * scale, $"{what}, position {p}: max |Δlogit| {worst:G4} vs max |logit| {scale:G4}");
            Assert.Equal(Array.IndexOf(expected[p], expected[p].Max()), Array.IndexOf(actual[p], actual[p].Max()));
        }
    }
}
