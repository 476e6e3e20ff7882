using ILGPU;

namespace Vib3.Kernels.Gpu;

/// <summary>Device code: q8_0 weights (34-byte blocks: f16 d, 32 int8 quants) against x's q8_0 form. Each lane takes
/// every 32nd block of the warp's row: Σ_blocks d_w · d_x · Σ q_w · q_x, the inner sum in integers.</summary>
internal static class GpuMatVecQ8_0
{
    private const int BlockBytes = 34;

    public static void Kernel(ArrayView<byte> w, ArrayView<sbyte> xq, ArrayView<float> xd, ArrayView<float> y, int rows, int cols)
    {
        var row = GpuMatVec.Row(rows);
        if (row < 0) return;
        var input = GpuMatVec.Input;
        var blocks = cols / 32;
        var rowStart = (long)row * blocks * BlockBytes;
        var xAt = (long)input * blocks; // in blocks
        var sum = 0f;
        for (var b = Warp.LaneIdx; b < blocks; b += 32)
        {
            var at = rowStart + (long)b * BlockBytes;
            var dots = 0;
            for (var j = 0; j < 32; j++) dots += (sbyte)w[at + 2 + j] * xq[(xAt + b) * 32 + j];
            sum += GpuMatVec.F16At(w, at) * xd[xAt + b] * dots;
        }
        sum = WarpReduce.Sum(sum);
        if (Warp.LaneIdx == 0) y[(long)input * rows + row] = sum;
    }
}
