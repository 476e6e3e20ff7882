using Vib3.Core;
using Vib3.Core.Quant;
using Vib3.Kernels.Quant;
using Vib3.Kernels.Tests.Quant;

namespace Vib3.Kernels.Tests;

/// <summary>
/// The batched block kernels (<see cref="MatMul"/> through <see cref="BlockBatch"/>): every output equals the
/// single-input kernel's bit for bit — the K-quants' scalar twin on the input's own q8_K row, q8_0's, the legacy
/// types' and IQ4_NL's <see cref="MatVec"/> — at every batch size 1…33 (full and partial groups of four inputs), odd row counts
/// (partial tiles), and large shapes that run on several threads.
/// </summary>
public unsafe class BlockBatchTests
{
    private static readonly (DType Type, string Ggml)[] KQuants =
        [(DType.Q2_K, "q2_K"), (DType.Q3_K, "q3_K"), (DType.Q4_K, "q4_K"), (DType.Q5_K, "q5_K"), (DType.Q6_K, "q6_K"), (DType.IQ4_XS, "iq4_xs"),
         (DType.TQ1_0, "tq1_0"), (DType.TQ2_0, "tq2_0"), (DType.IQ2_XXS, "iq2_xxs"), (DType.IQ2_XS, "iq2_xs"), (DType.IQ2_S, "iq2_s"),
         (DType.IQ3_XXS, "iq3_xxs"), (DType.IQ3_S, "iq3_s"), (DType.IQ1_S, "iq1_s"), (DType.IQ1_M, "iq1_m")];

    public static readonly TheoryData<DType> KQuantTypes = new(KQuants.Select(k => k.Type));

    public static readonly TheoryData<DType> Q8Types = new(DType.Q8_0, DType.Q4_0, DType.Q4_1, DType.Q5_0, DType.Q5_1, DType.IQ4_NL);

    private static readonly int[] OddRows = [1, 3, 17, 33];

    [Theory]
    [MemberData(nameof(KQuantTypes))]
    public void KQuant_EveryBatchSize_EqualsScalarTwinPerInput(DType t)
    {
        var rng = new Random(11);
        const int cols = 512;
        foreach (var rows in OddRows)
            for (var n = 1; n <= 33; n++)
                CompareKQuant(t, rows, cols, n, rng);
    }

    [Theory]
    [MemberData(nameof(KQuantTypes))]
    public void KQuant_Multithreaded_EqualsScalarTwinPerInput(DType t)
    {
        var rng = new Random(12);
        CompareKQuant(t, 203, 1024, 17, rng);
        CompareKQuant(t, 64, 2048, 33, rng);
    }

    /// <summary>Rows of 19 blocks: the tile kernel repacks eight blocks at a time and carries each row's chain
    /// from one group of blocks to the next; an odd input count and rows that leave a partial group of eight.</summary>
    [Theory]
    [MemberData(nameof(KQuantTypes))]
    public void KQuant_WideRows_EqualScalarTwinPerInput(DType t) => CompareKQuant(t, 21, 19 * Q8K.BlockValues, 9, new Random(15));

    [Theory]
    [MemberData(nameof(Q8Types))]
    public void Q8Activations_EveryBatchSize_EqualMatVec(DType t)
    {
        var rng = new Random(13);
        foreach (var rows in OddRows)
            for (var n = 1; n <= 33; n++)
                CompareMatVec(t, rows, 96, n, rng);
    }

    [Theory]
    [MemberData(nameof(Q8Types))]
    public void Q8Activations_Multithreaded_EqualMatVec(DType t)
    {
        var rng = new Random(14);
        CompareMatVec(t, 203, 1024, 17, rng);
        CompareMatVec(t, 64, 2048, 33, rng);
    }

    private static void CompareKQuant(DType t, int rows, int cols, int n, Random rng)
    {
        var format = BlockFormatCase.Get(KQuants.Single(k => k.Type == t).Ggml);
        var w = format.RandomBlocks(rng, rows * cols / format.BlockValues);
        var x = TestData.Floats(rng, n * cols);
        var y = new float[n * rows];
        MatMul.Compute(t, w, rows, cols, x, n, y);

        var blocks = cols / Q8K.BlockValues;
        var rowBytes = blocks * format.BlockBytes;
        var q8k = new byte[blocks * Q8K.BlockBytes];
        var kernel = KQuantDots.For(t);
        for (var i = 0; i < n; i++)
        {
            Q8K.Quantize(x.AsSpan(i * cols, cols), q8k);
            fixed (byte* pw = w)
            fixed (byte* px = q8k)
                for (var r = 0; r < rows; r++)
                {
                    float expected;
                    kernel(IntegerTier.Scalar, pw + r * rowBytes, px, 0, 1, blocks, &expected);
                    AssertSameBits(expected, y[i * rows + r], $"{t} {rows}x{cols} n={n} [{i},{r}]");
                }
        }
    }

    private static void CompareMatVec(DType t, int rows, int cols, int n, Random rng)
    {
        var (w, _) = TestData.Weights(rng, t, rows, cols);
        var x = TestData.Floats(rng, n * cols);
        var y = new float[n * rows];
        MatMul.Compute(t, w, rows, cols, x, n, y);
        var expected = new float[rows];
        for (var i = 0; i < n; i++)
        {
            MatVec.Compute(t, w, rows, cols, x.AsSpan(i * cols, cols), expected);
            for (var r = 0; r < rows; r++) AssertSameBits(expected[r], y[i * rows + r], $"{t} {rows}x{cols} n={n} [{i},{r}]");
        }
    }

    private static void AssertSameBits(float expected, float got, string where) =>
        Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(got), $"{where}: {got} vs {expected}");
}
