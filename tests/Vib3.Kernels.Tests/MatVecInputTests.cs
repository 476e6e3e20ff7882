using Vib3.Core;

namespace Vib3.Kernels.Tests;

/// <summary>A vector quantised once through <see cref="MatVecInput"/> and shared by several matvecs gives the same
/// bits as quantising it in every call: for every type, for types of different activation kinds multiplying one
/// vector in turn (q8_0, q8_1 sums, Q8_K, none), on one thread and split over the pool, and never a stale form after
/// <see cref="MatVecInput.Set"/> takes the next vector.</summary>
public class MatVecInputTests
{
    public static IEnumerable<object[]> Types() => TestData.AllTypes.Select(t => new object[] { t });

    private static void AssertSameAsPerCall(DType t, byte[] w, int rows, int cols, float[] x, MatVecInput input)
    {
        var perCall = new float[rows];
        var shared = new float[rows];
        MatVec.Compute(t, w, rows, cols, x, perCall);
        MatVec.Compute(t, w, rows, cols, input, shared);
        for (var r = 0; r < rows; r++)
            Assert.True(BitConverter.SingleToInt32Bits(perCall[r]) == BitConverter.SingleToInt32Bits(shared[r]),
                $"{t} {rows}x{cols} row {r}: per call {perCall[r]}, shared input {shared[r]}");
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void SharedInput_EqualsPerCallQuantisation_BitForBit(DType t)
    {
        var rng = new Random(11 + (int)t);
        const int cols = 512;
        var input = new MatVecInput(cols);
        var x = TestData.Floats(rng, cols);
        input.Set(x);
        foreach (var rows in new[] { 1, 5, 1000 }) // 1000 × 512 is above ParallelBytes for every type: the pool path
        {
            var (w, _) = TestData.Weights(rng, t, rows, cols);
            AssertSameAsPerCall(t, w, rows, cols, x, input);
            AssertSameAsPerCall(t, w, rows, cols, x, input); // second use: the kept form, not a fresh one
        }
    }

    [Fact]
    public void OneInput_ServesEveryActivationKind_InAnyOrder()
    {
        var rng = new Random(5);
        const int cols = 256;
        // q8_0 without sums, then a type that needs the q8_1 sums of the same vector, then Q8_K, then f16, and back.
        DType[] order = [DType.Q8_0, DType.Q4_1, DType.Q4_K, DType.F16, DType.Q5_1, DType.Q6_K, DType.Q4_0, DType.IQ2_XS];
        var input = new MatVecInput(cols);
        var x = TestData.Floats(rng, cols);
        input.Set(x);
        foreach (var t in order)
        {
            var (w, _) = TestData.Weights(rng, t, 37, cols);
            AssertSameAsPerCall(t, w, 37, cols, x, input);
        }
    }

    [Fact]
    public void Set_DropsTheFormsOfThePreviousVector()
    {
        var rng = new Random(6);
        const int cols = 256;
        var input = new MatVecInput(cols);
        foreach (var t in new[] { DType.Q8_0, DType.Q5_1, DType.Q4_K })
        {
            var (w, _) = TestData.Weights(rng, t, 64, cols);
            var buffer = TestData.Floats(rng, cols);
            input.Set(buffer);
            AssertSameAsPerCall(t, w, 64, cols, buffer, input);
            // The caller reuses its buffer for the next vector (the forward pass does, every layer).
            TestData.Floats(rng, cols).CopyTo(buffer, 0);
            input.Set(buffer);
            AssertSameAsPerCall(t, w, 64, cols, buffer, input);
        }
    }

    [Fact]
    public void LaterWritesToTheCallersBuffer_DoNotReachTheInput()
    {
        var rng = new Random(8);
        const int cols = 64;
        var (w, _) = TestData.Weights(rng, DType.Q8_0, 16, cols);
        var x = TestData.Floats(rng, cols);
        var input = new MatVecInput(cols);
        input.Set(x);
        var expected = new float[16];
        MatVec.Compute(DType.Q8_0, w, 16, cols, x, expected);
        Array.Fill(x, 100f);
        var actual = new float[16];
        MatVec.Compute(DType.Q8_0, w, 16, cols, input, actual);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void WrongLength_IsRefused()
    {
        var input = new MatVecInput(128);
        Assert.Throws<ArgumentException>(() => input.Set(new float[129]));
        input.Set(new float[64]);
        var y = new float[2];
        var ex = Assert.Throws<ArgumentException>(() => MatVec.Compute(DType.F32, new byte[2 * 128 * 4], 2, 128, input, y));
        Assert.Contains("128 columns", ex.Message);
    }
}
