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
        var blockRow = new GpuMatVec.BlockRow(row, cols, 32, BlockBytes);
        var xAt = blockRow.FirstX;
        var sum = 0f;
        for (var b = Warp.LaneIdx; b < blockRow.Blocks; b += 32)
        {
            var at = blockRow.Start + (long)b * BlockBytes;
            var dots = 0;
            for (var j = 0; j < 32; j++) dots += (sbyte)w[at + 2 + j] * xq[(xAt + b) * 32 + j];
            sum += GpuMatVec.F16At(w, at) * xd[xAt + b] * dots;
        }
        GpuMatVec.Finish(y, rows, row, sum);
    }
}
