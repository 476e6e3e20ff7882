using ILGPU;
using ILGPU.Runtime;

namespace Vib3.Kernels.Gpu;

/// <summary><see cref="VectorOps"/> on the device: the residual additions and the weighted sum of expert outputs.</summary>
public static class GpuVectorOps
{
    /// <summary>acc[i] += a[i] · s, for i &lt; n (s = 1: the residual add).</summary>
    public static void AddScaled(GpuDevice d, ArrayView<float> a, float s, ArrayView<float> acc, int n)
    {
        if (n == 0) return;
        if (n < 0 || a.Length < n || acc.Length < n) throw new ArgumentException($"add: {n} values, got a {a.Length}, acc {acc.Length}");
        d.Kernel("add_scaled", x => x.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, float, ArrayView<float>>(Kernel))(n, a, s, acc);
    }

    private static void Kernel(Index1D i, ArrayView<float> a, float s, ArrayView<float> acc) => acc[i] += a[i] * s;
}
