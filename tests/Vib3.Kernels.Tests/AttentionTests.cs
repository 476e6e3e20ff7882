namespace Vib3.Kernels.Tests;

public class AttentionTests
{
    // Scores: f32 dot (≤ hd·2^-24·Σ|q·k| ≈ 1e-5 relative for hd ≤ 128 with |q·k| scaled ≤ ~5) → softmax weights
    // shift by ≤ that in relative terms; output is a convex combination of v, so 2e-5·max|v| + 1e-6 absolute.
    [Theory]
    [InlineData(4, 4, 16)]   // MHA
    [InlineData(8, 2, 64)]   // GQA 4:1
    [InlineData(6, 1, 128)]  // MQA
    [InlineData(4, 2, 17)]   // odd head dim
    public void Decode_MatchesReference(int heads, int kvHeads, int hd)
    {
        var rng = new Random(heads * 100 + hd);
        for (var positions = 1; positions <= 40; positions++)
        {
            var q = TestData.Floats(rng, heads * hd);
            var k = TestData.Floats(rng, positions * kvHeads * hd);
            var v = TestData.Floats(rng, positions * kvHeads * hd);
            var expected = new float[heads * hd];
            var actual = new float[heads * hd];
            var scratch = new float[positions];
            Attention.Reference(q, k, v, positions, heads, kvHeads, hd, expected, scratch);
            Attention.Decode(q, k, v, positions, heads, kvHeads, hd, actual, scratch);
            for (var i = 0; i < expected.Length; i++)
                Assert.True(Math.Abs(expected[i] - actual[i]) <= 2e-5 + 1e-6, $"pos={positions} [{i}]: {expected[i]} vs {actual[i]}");

            // f16 cache: the reference over the same values widened to f32 is the oracle.
            var kh = k.Select(f => (Half)f).ToArray();
            var vh = v.Select(f => (Half)f).ToArray();
            var k16 = kh.Select(h => (float)h).ToArray();
            var v16 = vh.Select(h => (float)h).ToArray();
            Attention.Reference(q, k16, v16, positions, heads, kvHeads, hd, expected, scratch);
            Attention.DecodeF16(q, kh, vh, positions, heads, kvHeads, hd, actual, scratch);
            for (var i = 0; i < expected.Length; i++)
                Assert.True(Math.Abs(expected[i] - actual[i]) <= 2e-5 + 1e-6, $"f16 pos={positions} [{i}]: {expected[i]} vs {actual[i]}");
        }
    }

    /// <summary>With a row of scores per head the heads run on the kernel threads; each head's arithmetic is the one
    /// the serial loop does, so the output has the same bits as with one shared row (heads one after another).</summary>
    [Theory]
    [InlineData(16, 4, 64, 100)] // the bench model's shape: well above Attention.ParallelMultiplyAdds
    [InlineData(6, 1, 128, 333)]
    [InlineData(4, 2, 17, 2000)]
    public void ParallelHeads_GiveTheBitsOfTheSerialLoop(int heads, int kvHeads, int hd, int positions)
    {
        Assert.True(2L * heads * hd * positions >= Attention.ParallelMultiplyAdds);
        var rng = new Random(heads + positions);
        var q = TestData.Floats(rng, heads * hd, 3f);
        var k = TestData.Floats(rng, positions * kvHeads * hd);
        var v = TestData.Floats(rng, positions * kvHeads * hd);
        var serial = new float[heads * hd];
        var parallel = new float[heads * hd];
        for (var round = 0; round < 20; round++) // back to back: the pool's hand-off, and scores rows reused
        {
            Attention.Decode(q, k, v, positions, heads, kvHeads, hd, serial, new float[positions]);
            Attention.Decode(q, k, v, positions, heads, kvHeads, hd, parallel, new float[heads * positions]);
            Assert.Equal(serial.Select(BitConverter.SingleToInt32Bits), parallel.Select(BitConverter.SingleToInt32Bits));
        }
        var kh = k.Select(f => (Half)f).ToArray();
        var vh = v.Select(f => (Half)f).ToArray();
        Attention.DecodeF16(q, kh, vh, positions, heads, kvHeads, hd, serial, new float[positions]);
        Attention.DecodeF16(q, kh, vh, positions, heads, kvHeads, hd, parallel, new float[heads * positions]);
        Assert.Equal(serial.Select(BitConverter.SingleToInt32Bits), parallel.Select(BitConverter.SingleToInt32Bits));
    }

    [Fact]
    public void SinglePositionReturnsV()
    {
        var q = new float[] { 1, 2, 3, 4 };
        var k = new float[] { 5, 6, 7, 8 };
        var v = new float[] { 9, 10, 11, 12 };
        var o = new float[4];
        Attention.Decode(q, k, v, 1, 1, 1, 4, o, new float[1]);
        Assert.Equal(v, o);
    }
}
