using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace Vib3.Kernels.Gpu;

/// <summary><see cref="SwiGlu"/> on the device: y = silu(gate) · up, silu(v) = v / (1 + exp(−v)). y may be gate or
/// up.</summary>
public static class GpuSwiGlu
{
    /// <param name="gate">[n]</param>
    /// <param name="up">[n]</param>
    /// <param name="y">[n]</param>
    public static void Compute(GpuDevice d, ArrayView<float> gate, ArrayView<float> up, ArrayView<float> y, int n)
    {
        if (n == 0) return;
        Check.Rows("swiglu", gate.Length, up.Length, y.Length, 1, n);
        var kernel = d.Kernel("swiglu", a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>>(Kernel));
        kernel(n, gate, up, y);
    }

    private static void Kernel(Index1D i, ArrayView<float> gate, ArrayView<float> up, ArrayView<float> y)
    {
        var g = gate[i];
        y[i] = g / (1f + XMath.Exp(-g)) * up[i];
    }
}
