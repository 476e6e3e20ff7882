using Vib3.Core.Quant;

namespace Vib3.Kernels.Tests.Quant;

/// <summary>The Q8_K activation quantiser against ggml's quantize_row_q8_K_ref, byte for byte.</summary>
public class Q8KTests
{
    [Fact]
    public void Quantize_MatchesGgmlByteForByte()
    {
        foreach (var seed in new[] { 1, 2, 3, 4 })
        {
            var rng = new Random(seed);
            const int blocks = 32;
            var x = new float[blocks * Q8K.BlockValues];
            for (var b = 0; b < blocks; b++)
            {
                var scale = MathF.Pow(10, rng.Next(-6, 4));
                for (var j = 0; j < Q8K.BlockValues; j++) x[b * Q8K.BlockValues + j] = (float)(rng.NextDouble() * 2 - 1) * scale;
            }
            // Corner cases: an all-zero block, a block whose largest magnitude is negative, a tie between ±max
            // (the first wins), and values that land exactly on .5 after scaling (half to even).
            Array.Clear(x, 0, Q8K.BlockValues);
            x[Q8K.BlockValues + 7] = -1e6f;
            x[2 * Q8K.BlockValues + 3] = 1e6f;
            x[2 * Q8K.BlockValues + 9] = -1e6f;
            for (var j = 0; j < Q8K.BlockValues; j++) x[3 * Q8K.BlockValues + j] = (j - 128) * 0.5f;
            x[3 * Q8K.BlockValues] = -127f;

            var mine = new byte[blocks * Q8K.BlockBytes];
            var ggml = new byte[mine.Length];
            Q8K.Quantize(x, mine);
            GgmlReference.QuantizeQ8K(x, ggml);
            for (var i = 0; i < mine.Length; i++)
                if (mine[i] != ggml[i])
                    Assert.Fail($"seed {seed}: byte {i} (block {i / Q8K.BlockBytes}, offset {i % Q8K.BlockBytes}) is {mine[i]}, ggml {ggml[i]}");
        }
    }

    [Fact]
    public void Quantize_RowNotAWholeNumberOfBlocks_IsRefused()
    {
        var ex = Assert.Throws<ArgumentException>(() => Q8K.Quantize(new float[300], new byte[2 * Q8K.BlockBytes]));
        Assert.Contains("q8_K", ex.Message);
    }
}
