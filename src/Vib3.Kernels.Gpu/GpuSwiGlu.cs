using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace Vib3.Kernels.Gpu;

/// <summary><see cref="SwiGlu"/> on the device: y = silu(gate) · up, silu(v) = v / (1 + exp(−v)).</summary>
public static class GpuSwiGlu
{
    /// <param name="gate">[n]</param>
    /// <param name="up">[n]</param>
    /// <param name="y">[n]; may be gate or up</param>
    public static void Compute(GpuDevice d, ArrayView<float> gate, ArrayView<float> up, ArrayView<float> y, int n)
    {
        if (n == 0) return;
        Check.Rows("swiglu", gate.Length, up.Length, y.Length, 1, n);
        d.Kernel("swiglu", a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>>(Kernel))(n, gate, up, y);
    }

    /// <summary>For rows whose gate and up outputs come from one product, side by side: y[t, i] = silu(gateUp[t, i]) ·
    /// gateUp[t, n + i].</summary>
    /// <param name="gateUp">[rows, 2n]</param>
    /// <param name="y">[rows, n]</param>
    public static void Paired(GpuDevice d, ArrayView<float> gateUp, ArrayView<float> y, int rows, int n)
    {
        if (rows == 0 || n == 0) return;
        Check.Rows("swiglu", gateUp.Length / 2, n, y.Length, rows, n);
        d.Kernel("swiglu_paired", a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int>(PairedKernel))(rows * n, gateUp, y, n);
    }

    private static void Kernel(Index1D i, ArrayView<float> gate, ArrayView<float> up, ArrayView<float> y) => y[i] = Silu(gate[i]) * up[i];

    private static void PairedKernel(Index1D index, ArrayView<float> gateUp, ArrayView<float> y, int n)
    {
        int i = index;
        var at = (long)(i / n) * 2 * n + i % n;
        y[i] = Silu(gateUp[at]) * gateUp[at + n];
    }

    private static float Silu(float g) => g / (1f + XMath.Exp(-g));
}
