using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace Vib3.Kernels.Gpu;

/// <summary><see cref="RmsNorm"/> on the device, for each of several rows: y = x / sqrt(mean(x²) + eps) · w. One group
/// per row; x and y may be the same view.</summary>
public static class GpuRmsNorm
{
    private const int Threads = 256;

    /// <param name="x">[rows, n]</param>
    /// <param name="w">[n]</param>
    /// <param name="y">[rows, n]</param>
    public static void Compute(GpuDevice d, ArrayView<float> x, ArrayView<float> w, float eps, ArrayView<float> y, int rows, int n)
    {
        if (rows == 0 || n == 0) return;
        Check.Rows("rms_norm", x.Length, w.Length, y.Length, rows, n);
        var kernel = d.Kernel("rms_norm", a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float>(Kernel));
        kernel(new KernelConfig(rows, Threads), x, w, y, n, eps);
    }

    private static void Kernel(ArrayView<float> x, ArrayView<float> w, ArrayView<float> y, int n, float eps)
    {
        var row = (long)Grid.IdxX * n;
        var sum = 0f;
        for (var i = Group.IdxX; i < n; i += Group.DimX) sum += x[row + i] * x[row + i];
        sum = WarpReduce.GroupSum(sum);
        var scale = 1f / XMath.Sqrt(sum / n + eps);
        for (var i = Group.IdxX; i < n; i += Group.DimX) y[row + i] = x[row + i] * scale * w[i];
    }
}
