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

    /// <summary>The vectorised quantiser against the scalar definition (and ggml) on blocks built to hit every
    /// branch: the largest magnitude at each of the 256 positions (so in every lane of every vector), negative or
    /// positive, tied with an opposite-signed value before or after it; all zeros; a single nonzero value; values
    /// that land exactly on .5 after scaling (half to even, both signs); subnormals; and a magnitude spread so wide
    /// most quants round to zero.</summary>
    [Fact]
    public void Quantize_Vectorised_SameBytesAsScalar_AtEveryBlockShape()
    {
        var rng = new Random(5);
        var blocks = new List<float[]>();
        float[] Random(float scale) => Enumerable.Range(0, Q8K.BlockValues).Select(_ => (float)(rng.NextDouble() * 2 - 1) * scale).ToArray();
        for (var p = 0; p < Q8K.BlockValues; p++)
        {
            var sign = p % 2 == 0 ? -1f : 1f;
            var b = Random(1);
            b[p] = 4 * sign;
            blocks.Add(b);
            var tie = (float[])b.Clone(); // the same magnitude, other sign, later: the first (at p) still decides
            tie[(p + 1 + rng.Next(Q8K.BlockValues - 1)) % Q8K.BlockValues] = -4 * sign;
            blocks.Add(tie);
        }
        blocks.Add(new float[Q8K.BlockValues]);
        var single = new float[Q8K.BlockValues];
        single[200] = -3e-5f;
        blocks.Add(single);
        // max 127: every integer and half-integer in ±127 is a product x·(−127/max) that is exact.
        var halves = Enumerable.Range(0, Q8K.BlockValues).Select(j => (j - 128) * 0.5f + (j % 7 == 0 ? 0.25f : 0)).ToArray();
        halves[255] = 127f;
        blocks.Add(halves);
        blocks.Add(halves.Select(v => -v).ToArray());
        blocks.Add(Enumerable.Range(0, Q8K.BlockValues).Select(j => (j - 128) * float.Epsilon * 3).ToArray());
        blocks.Add(Enumerable.Range(0, Q8K.BlockValues).Select(j => (float)Math.Pow(10, j % 12 - 6) * (j % 3 - 1)).ToArray());

        var x = blocks.SelectMany(b => b).ToArray();
        var vector = new byte[blocks.Count * Q8K.BlockBytes];
        var scalar = new byte[vector.Length];
        var ggml = new byte[vector.Length];
        Q8K.Quantize(x, vector);
        Q8K.QuantizeScalar(x, scalar);
        GgmlReference.QuantizeQ8K(x, ggml);
        for (var i = 0; i < vector.Length; i++)
        {
            if (scalar[i] != ggml[i]) Assert.Fail($"scalar: byte {i} (block {i / Q8K.BlockBytes}, offset {i % Q8K.BlockBytes}) is {scalar[i]}, ggml {ggml[i]}");
            if (vector[i] != scalar[i]) Assert.Fail($"vector: byte {i} (block {i / Q8K.BlockBytes}, offset {i % Q8K.BlockBytes}) is {vector[i]}, scalar {scalar[i]}");
        }
    }

    [Fact]
    public void Quantize_RowNotAWholeNumberOfBlocks_IsRefused()
    {
        var ex = Assert.Throws<ArgumentException>(() => Q8K.Quantize(new float[300], new byte[2 * Q8K.BlockBytes]));
        Assert.Contains("q8_K", ex.Message);
    }
}
