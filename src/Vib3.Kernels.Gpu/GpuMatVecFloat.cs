using ILGPU;

namespace Vib3.Kernels.Gpu;

/// <summary>Device code: the float matvecs (f32, f16, bf16), one kernel over a reader per type. Each lane takes every
/// 32nd column of the warp's row, so a warp's loads are contiguous.</summary>
internal static class GpuMatVecFloat
{
    public static void Kernel<TWeights>(TWeights w, ArrayView<float> x, ArrayView<float> y, int rows, int cols)
        where TWeights : struct, DeviceFloats.IReader
    {
        var row = GpuMatVec.Row(rows);
        if (row < 0) return;
        var start = (long)row * cols;
        var xAt = (long)GpuMatVec.Input * cols;
        var sum = 0f;
        for (var c = Warp.LaneIdx; c < cols; c += 32) sum += w.At(start + c) * x[xAt + c];
        GpuMatVec.Finish(y, rows, row, sum);
    }
}
