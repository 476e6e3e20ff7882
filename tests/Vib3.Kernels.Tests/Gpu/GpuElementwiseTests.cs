using ILGPU;
using Vib3.Kernels.Gpu;

namespace Vib3.Kernels.Tests.Gpu;

/// <summary>RMS norm, softmax and SwiGLU on the device against their CPU twins, at every length up to past two groups'
/// worth of threads (the tails of each loop) and for several rows at once.</summary>
[Collection(IlgpuCpuCollection.Name)]
public sealed class GpuElementwiseTests(IlgpuCpuDevice cpu)
{
    private static readonly int[] Lengths = [.. Enumerable.Range(1, 40), 63, 64, 65, 255, 256, 257, 511, 513, 1000];

    private static void Close(float expected, float actual, double tolerance, string what) =>
        Assert.True(Math.Abs(expected - actual) <= tolerance * Math.Max(1, Math.Abs(expected)), $"{what}: cpu {expected}, device {actual}");

    [Fact]
    public void Rms_norm_equals_the_cpu_s()
    {
        var rng = new Random(5);
        foreach (var n in Lengths)
            foreach (var rows in n % 16 == 1 ? [1, 3] : new[] { 1 })
            {
                var x = TestData.Floats(rng, rows * n, 3f);
                var w = TestData.Floats(rng, n);
                var expected = new float[rows * n];
                for (var r = 0; r < rows; r++) RmsNorm.Compute(x.AsSpan(r * n, n), w, 1e-5f, expected.AsSpan(r * n, n));
                using var dx = cpu.Upload(x);
                using var dw = cpu.Upload(w);
                using var dy = cpu.Device.Accelerator.Allocate1D<float>(rows * n);
                GpuRmsNorm.Compute(cpu.Device, dx.View, dw.View, 1e-5f, dy.View, rows, n);
                var actual = IlgpuCpuDevice.Download(dy, rows * n);
                for (var i = 0; i < actual.Length; i++) Close(expected[i], actual[i], 1e-5, $"rms_norm n {n} rows {rows} at {i}");
            }
    }

    [Fact]
    public void Softmax_equals_the_cpu_s()
    {
        var rng = new Random(6);
        foreach (var n in Lengths)
            foreach (var rows in n % 16 == 1 ? [1, 2] : new[] { 1 })
            {
                var x = TestData.Floats(rng, rows * n, 8f);
                var expected = (float[])x.Clone();
                for (var r = 0; r < rows; r++) Softmax.InPlace(expected.AsSpan(r * n, n));
                using var dx = cpu.Upload(x);
                GpuSoftmax.InPlace(cpu.Device, dx.View, rows, n);
                var actual = IlgpuCpuDevice.Download(dx, rows * n);
                for (var i = 0; i < actual.Length; i++) Close(expected[i], actual[i], 1e-5, $"softmax n {n} rows {rows} at {i}");
                for (var r = 0; r < rows; r++) Assert.Equal(1.0, actual.Skip(r * n).Take(n).Sum(v => (double)v), 4);
            }
    }

    [Fact]
    public void Swiglu_equals_the_cpu_s_and_may_write_over_its_gate()
    {
        var rng = new Random(7);
        foreach (var n in Lengths)
        {
            var gate = TestData.Floats(rng, n, 6f);
            var up = TestData.Floats(rng, n);
            var expected = new float[n];
            SwiGlu.Compute(gate, up, expected);
            using var dg = cpu.Upload(gate);
            using var du = cpu.Upload(up);
            GpuSwiGlu.Compute(cpu.Device, dg.View, du.View, dg.View, n);
            var actual = IlgpuCpuDevice.Download(dg, n);
            for (var i = 0; i < n; i++) Close(expected[i], actual[i], 1e-5, $"swiglu n {n} at {i}");
        }
    }

    [Fact]
    public void A_short_view_is_refused_before_the_launch()
    {
        using var small = cpu.Device.Accelerator.Allocate1D<float>(10);
        var e = Assert.Throws<ArgumentException>(() => GpuRmsNorm.Compute(cpu.Device, small.View, small.View, 1e-5f, small.View, 2, 10));
        Assert.Contains("rms_norm: 2 rows of 10 need x and y of 20 values", e.Message);
    }
}
