using ILGPU;
using ILGPU.Runtime;

namespace Vib3.Kernels.Gpu;

/// <summary>The q8_0 form of an activation vector, on the device, as the 32-value block kernels take it: per block of
/// 32, d = amax / 127 rounded through f16 and q = round-half-to-even(x · 127 / amax); the numbers of the CPU's
/// quantiser (RowDot.QuantizeQ8), so both sides multiply the same integers. One thread per block.</summary>
internal static class GpuQuantizeQ8
{
    /// <param name="x">[blocks · 32]</param>
    /// <param name="q">[blocks · 32] quants</param>
    /// <param name="scales">[blocks] d</param>
    public static void Run(GpuDevice d, ArrayView<float> x, ArrayView<sbyte> q, ArrayView<float> scales, int blocks)
    {
        if (blocks == 0) return;
        var kernel = d.Kernel("quantize_q8_0", a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<sbyte>, ArrayView<float>>(Kernel));
        kernel(blocks, x, q, scales);
    }

    private static void Kernel(Index1D b, ArrayView<float> x, ArrayView<sbyte> q, ArrayView<float> scales)
    {
        var start = (long)(int)b * 32;
        var amax = 0f;
        for (var j = 0; j < 32; j++) amax = IntrinsicMath.Max(amax, IntrinsicMath.Abs(x[start + j]));
        var inverse = amax != 0 ? 127f / amax : 0f;
        for (var j = 0; j < 32; j++) q[start + j] = (sbyte)Rounding.NearestInt(x[start + j] * inverse);
        scales[b] = Rounding.ThroughHalf(amax / 127f);
    }
}
