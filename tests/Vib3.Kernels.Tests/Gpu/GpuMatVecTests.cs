using Vib3.Core;
using Vib3.Kernels.Gpu;

namespace Vib3.Kernels.Tests.Gpu;

/// <summary>The device matvec against the CPU's (<see cref="MatVec.Compute(DType, ReadOnlySpan{byte}, int, int, ReadOnlySpan{float}, Span{float})"/>)
/// for every type with a device kernel: row counts around the four rows of a group, column counts at every tail of a
/// warp's 32 lanes (the float types) and at one to five blocks (the block types, whose quantised activations are the
/// CPU's), one input shared by several matrices, several inputs at once against the CPU's batch.</summary>
[Collection(IlgpuCpuCollection.Name)]
public sealed class GpuMatVecTests(IlgpuCpuDevice cpu)
{
    // Both sides add the same products (integers, for the block types) in f32, in different orders: the error is a few
    // ulps of Σ|w·x| per partial sum, far inside 2e-5 of it.
    private const double RelTol = 2e-5;

    public static IEnumerable<object[]> Types() =>
        DTypes.All.Where(GpuMatVec.Supports).Select(t => new object[] { t });

    private static readonly int[] RowCounts = [1, 2, 3, 4, 5, 7, 9, 37];

    private static IEnumerable<int> ColumnCounts(DType t) => t.BlockSize() == 1
        ? [.. Enumerable.Range(1, 40), 63, 64, 65, 127, 128, 129, 300]
        : new[] { 1, 2, 3, 5 }.Select(b => b * t.BlockSize());

    private void Compare(DType t, int rows, int cols, Random rng, GpuMatVecInput input)
    {
        var (bytes, values) = TestData.Weights(rng, t, rows, cols);
        var x = TestData.Floats(rng, cols);
        var expected = new float[rows];
        MatVec.Compute(t, bytes, rows, cols, x, expected);

        using var w = cpu.Upload(bytes);
        using var y = cpu.Device.Accelerator.Allocate1D<float>(rows);
        input.Set(x);
        GpuMatVec.Compute(cpu.Device, t, w.View, rows, cols, input, y.View);
        var actual = IlgpuCpuDevice.Download(y, rows);
        for (var r = 0; r < rows; r++)
        {
            var tolerance = RelTol * TestData.AbsDot(values, r, cols, x) + 1e-30;
            Assert.True(Math.Abs((double)expected[r] - actual[r]) <= tolerance,
                $"{t} {rows}x{cols} row {r}: cpu {expected[r]}, device {actual[r]}, tolerance {tolerance}");
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void Every_tail_equals_the_cpu_s(DType t)
    {
        var rng = new Random(11 + (int)t);
        using var input = new GpuMatVecInput(cpu.Device, 5 * 256);
        // Every column count with row counts taken in turn (each launch on the CPU accelerator costs tens of ms), and
        // the widest with every row count.
        var columns = ColumnCounts(t).ToList();
        for (var i = 0; i < columns.Count; i++) Compare(t, RowCounts[i % RowCounts.Length], columns[i], rng, input);
        foreach (var rows in RowCounts) Compare(t, rows, columns[^1], rng, input);
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void One_input_serves_several_matrices(DType t)
    {
        var rng = new Random(3);
        var cols = Math.Max(64, t.BlockSize()) * 2;
        using var input = new GpuMatVecInput(cpu.Device, cols);
        var x = TestData.Floats(rng, cols);
        input.Set(x);
        foreach (var rows in new[] { 6, 11 })
        {
            var (bytes, _) = TestData.Weights(rng, t, rows, cols);
            var expected = new float[rows];
            MatVec.Compute(t, bytes, rows, cols, x, expected);
            using var w = cpu.Upload(bytes);
            using var y = cpu.Device.Accelerator.Allocate1D<float>(rows);
            GpuMatVec.Compute(cpu.Device, t, w.View, rows, cols, input, y.View);
            var actual = IlgpuCpuDevice.Download(y, rows);
            for (var r = 0; r < rows; r++) Assert.Equal(expected[r], actual[r], 1e-4f * Math.Max(1, Math.Abs(expected[r])));
        }
    }

    /// <summary>Several vectors at once (a step's rows) against the CPU's batched <see cref="MatMul"/>.</summary>
    [Theory]
    [MemberData(nameof(Types))]
    public void Several_vectors_equal_the_cpu_s_batch(DType t)
    {
        var rng = new Random(17);
        var cols = Math.Max(96, t.BlockSize());
        using var input = new GpuMatVecInput(cpu.Device, cols, 5);
        foreach (var (rows, n) in new[] { (5, 2), (9, 3), (4, 5) })
        {
            var (bytes, values) = TestData.Weights(rng, t, rows, cols);
            var x = TestData.Floats(rng, n * cols);
            var expected = new float[n * rows];
            MatMul.Compute(t, bytes, rows, cols, x, n, expected);
            using var w = cpu.Upload(bytes);
            using var y = cpu.Device.Accelerator.Allocate1D<float>(n * rows);
            input.Set(x, n);
            GpuMatVec.Compute(cpu.Device, t, w.View, rows, cols, input, y.View);
            var actual = IlgpuCpuDevice.Download(y, n * rows);
            for (var i = 0; i < n; i++)
                for (var r = 0; r < rows; r++)
                {
                    var tolerance = RelTol * TestData.AbsDot(values, r, cols, x.AsSpan(i * cols, cols)) + 1e-30;
                    Assert.True(Math.Abs((double)expected[i * rows + r] - actual[i * rows + r]) <= tolerance,
                        $"{t} {rows}x{cols}, vector {i} of {n}, row {r}: cpu {expected[i * rows + r]}, device {actual[i * rows + r]}");
                }
        }
    }

    [Fact]
    public void A_type_without_a_device_kernel_and_a_wrong_shape_are_refused()
    {
        using var input = new GpuMatVecInput(cpu.Device, 256);
        using var w = cpu.Device.Accelerator.Allocate1D<byte>(1024);
        using var y = cpu.Device.Accelerator.Allocate1D<float>(4);
        input.Set(new float[256]);
        Assert.Throws<NotSupportedException>(() => GpuMatVec.Compute(cpu.Device, DType.IQ2_XXS, w.View, 1, 256, input, y.View));
        var e = Assert.Throws<ArgumentException>(() => GpuMatVec.Compute(cpu.Device, DType.Q4_K, w.View, 8, 256, input, y.View));
        Assert.Contains("matvec q4_k: 8x256 needs cols a multiple of 256, 1152 weight bytes", e.Message);
    }
}
