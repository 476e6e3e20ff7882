using ILGPU;

namespace Vib3.Kernels.Gpu;

/// <summary>Device code: Q6_K weights against x's Q8_K form. A 210-byte block holds 256 values in two halves of 128:
/// 128 bytes of low nibbles (ql), 64 bytes of high 2-bit pairs (qh), sixteen int8 scales (one per 16 values) and an f16
/// d. In half h, lane l's values are at l, l+32, l+64 and l+96: the low and high nibbles of ql[l] and ql[l+32], each
/// with two bits of qh[l]; value = d·scale·(q − 32).</summary>
internal static class GpuMatVecQ6K
{
    private const int BlockBytes = 210;

    public static void Kernel(ArrayView<byte> w, ArrayView<sbyte> xq, ArrayView<float> xd, ArrayView<float> y, int rows, int cols)
    {
        var row = GpuMatVec.Row(rows);
        if (row < 0) return;
        var l = Warp.LaneIdx;
        var blockRow = new GpuMatVec.BlockRow(row, cols, 256, BlockBytes);
        var first = blockRow.FirstX;
        var sum = 0f;
        for (var b = 0; b < blockRow.Blocks; b++)
        {
            var at = blockRow.Start + (long)b * BlockBytes;
            var dots = 0;
            for (var h = 0; h < 2; h++)
            {
                var ql = at + h * 64;
                var qh = w[at + 128 + h * 32 + l];
                var scales = at + 192 + h * 8 + l / 16;
                var x = (first + b) * 256 + h * 128 + l;
                var q1 = ((w[ql + l] & 0xF) | ((qh & 3) << 4)) - 32;
                var q2 = ((w[ql + l + 32] & 0xF) | (((qh >> 2) & 3) << 4)) - 32;
                var q3 = ((w[ql + l] >> 4) | (((qh >> 4) & 3) << 4)) - 32;
                var q4 = ((w[ql + l + 32] >> 4) | (((qh >> 6) & 3) << 4)) - 32;
                dots += (sbyte)w[scales] * q1 * xq[x] + (sbyte)w[scales + 2] * q2 * xq[x + 32]
                        + (sbyte)w[scales + 4] * q3 * xq[x + 64] + (sbyte)w[scales + 6] * q4 * xq[x + 96];
            }
            sum += xd[first + b] * GpuMatVec.F16At(w, at + 208) * dots;
        }
        GpuMatVec.Finish(y, rows, row, sum);
    }
}
