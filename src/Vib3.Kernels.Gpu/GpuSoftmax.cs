using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace Vib3.Kernels.Gpu;

/// <summary><see cref="Softmax"/> on the device, in place, for each of several rows: exp(x − max) / Σ. One group per
/// row.</summary>
public static class GpuSoftmax
{
    private const int Threads = 256;

    /// <param name="x">[rows, n], overwritten with the probabilities</param>
    public static void InPlace(GpuDevice d, ArrayView<float> x, int rows, int n)
    {
        if (rows == 0 || n == 0) return;
        Check.Rows("softmax", x.Length, n, x.Length, rows, n);
        var kernel = d.Kernel("softmax", a => a.LoadStreamKernel<ArrayView<float>, int>(Kernel));
        kernel(new KernelConfig(rows, Threads), x, n);
    }

    private static void Kernel(ArrayView<float> x, int n)
    {
        var row = (long)Grid.IdxX * n;
        var max = float.NegativeInfinity;
        for (var i = Group.IdxX; i < n; i += Group.DimX) max = IntrinsicMath.Max(max, x[row + i]);
        max = WarpReduce.GroupMax(max);
        var sum = 0f;
        for (var i = Group.IdxX; i < n; i += Group.DimX)
        {
            var e = XMath.Exp(x[row + i] - max);
            x[row + i] = e;
            sum += e;
        }
        sum = WarpReduce.GroupSum(sum);
        var inverse = 1f / sum;
        for (var i = Group.IdxX; i < n; i += Group.DimX) x[row + i] *= inverse;
    }
}
