using ILGPU;

namespace Vib3.Kernels.Gpu;

/// <summary>Device code: the float matvecs (f32, f16, bf16), one kernel over a weight reader per type. Each lane takes
/// every 32nd column of the warp's row, so a warp's loads are contiguous.</summary>
internal static class GpuMatVecFloat
{
    /// <summary>Reads weight i as f32.</summary>
    public interface IWeights
    {
        float At(long i);
    }

    public readonly struct F32(ArrayView<float> w) : IWeights
    {
        public float At(long i) => w[i];
    }

    public readonly struct F16(ArrayView<ushort> w) : IWeights
    {
        public float At(long i) => (float)Interop.IntAsFloat(w[i]);
    }

    /// <summary>bf16 is the upper half of an f32.</summary>
    public readonly struct BF16(ArrayView<ushort> w) : IWeights
    {
        public float At(long i) => Interop.IntAsFloat((uint)w[i] << 16);
    }

    public static void Kernel<TWeights>(TWeights w, ArrayView<float> x, ArrayView<float> y, int rows, int cols)
        where TWeights : struct, IWeights
    {
        var row = GpuMatVec.Row(rows);
        if (row < 0) return;
        var start = (long)row * cols;
        var sum = 0f;
        for (var c = Warp.LaneIdx; c < cols; c += 32) sum += w.At(start + c) * x[c];
        sum = WarpReduce.Sum(sum);
        if (Warp.LaneIdx == 0) y[row] = sum;
    }
}
