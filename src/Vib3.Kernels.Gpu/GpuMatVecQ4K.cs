using ILGPU;

namespace Vib3.Kernels.Gpu;

/// <summary>Device code: Q4_K weights against x's Q8_K form. A 144-byte block holds 256 values: f16 d and dmin, twelve
/// bytes packing eight 6-bit scales and mins, and 128 bytes of 4-bit quants (in each 64-value run, the low nibbles are
/// the first 32 values, the high nibbles the next 32). Value = d·scale_j·q − dmin·min_j for sub-block j of 32. The
/// warp takes a block at a time: lane l works on 8 values of sub-block l / 4, and the lanes of quarter 0 subtract
/// their sub-block's mins through x's run sums.</summary>
internal static class GpuMatVecQ4K
{
    private const int BlockBytes = 144;

    public static void Kernel(ArrayView<byte> w, ArrayView<sbyte> xq, ArrayView<float> xd, ArrayView<short> xs, ArrayView<float> y, int rows, int cols)
    {
        var row = GpuMatVec.Row(rows);
        if (row < 0) return;
        var lane = Warp.LaneIdx;
        var sub = lane / 4;          // sub-block of 32 values, 0..7
        var part = (lane % 4) * 8;   // this lane's 8 values within it
        var blockRow = new GpuMatVec.BlockRow(row, cols, 256, BlockBytes);
        var first = blockRow.FirstX;
        var sum = 0f;
        for (var b = 0; b < blockRow.Blocks; b++)
        {
            var at = blockRow.Start + (long)b * BlockBytes;
            // get_scale_min_k4: sub-blocks 0-3 keep 6 bits in bytes 0-3 (scales) and 4-7 (mins); 4-7 split 4 low bits
            // in bytes 8-11 and 2 high bits in the top of bytes 0-7.
            int scale, min;
            if (sub < 4)
            {
                scale = w[at + 4 + sub] & 63;
                min = w[at + 4 + sub + 4] & 63;
            }
            else
            {
                scale = (w[at + 4 + sub + 4] & 0xF) | ((w[at + 4 + sub - 4] >> 6) << 4);
                min = (w[at + 4 + sub + 4] >> 4) | ((w[at + 4 + sub] >> 6) << 4);
            }
            var quants = at + 16 + (sub / 2) * 32 + part; // the 32 bytes of this sub-block's 64-value run
            var high = (sub & 1) == 1;
            var xAt = (first + b) * 256 + sub * 32 + part;
            var dots = 0;
            for (var k = 0; k < 8; k++)
            {
                var q = high ? w[quants + k] >> 4 : w[quants + k] & 0xF;
                dots += q * xq[xAt + k];
            }
            var dx = xd[first + b];
            sum += dx * GpuMatVec.F16At(w, at) * (scale * dots);
            if (part == 0)
            {
                var runs = xs[(first + b) * 16 + sub * 2] + xs[(first + b) * 16 + sub * 2 + 1];
                sum -= dx * GpuMatVec.F16At(w, at + 2) * (min * runs);
            }
        }
        GpuMatVec.Finish(y, rows, row, sum);
    }
}
