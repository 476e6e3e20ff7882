using ILGPU;
using ILGPU.Runtime;

namespace Vib3.Kernels.Gpu;

/// <summary>The Q8_K form of an activation vector, on the device, as the K-quant kernels take it: per block of 256,
/// the value of largest magnitude (the first if tied) maps to −127, q = min(127, round-half-to-even(x · −127/max)),
/// d = max / −127, and the sums of each run of 16 quants. The numbers of Vib3.Core.Quant.Q8K (ggml's
/// quantize_row_q8_K), held as three arrays instead of its 292-byte blocks. One warp per block, 8 values a lane.</summary>
internal static class GpuQuantizeQ8K
{
    private const int WarpsPerGroup = 4;

    /// <param name="x">[blocks · 256]</param>
    /// <param name="q">[blocks · 256] quants</param>
    /// <param name="scales">[blocks] d</param>
    /// <param name="sums">[blocks · 16] sums of runs of 16 quants</param>
    public static void Run(GpuDevice d, ArrayView<float> x, ArrayView<sbyte> q, ArrayView<float> scales, ArrayView<short> sums, int blocks)
    {
        if (blocks == 0) return;
        var kernel = d.Kernel("quantize_q8_k",
            a => a.LoadStreamKernel<ArrayView<float>, ArrayView<sbyte>, ArrayView<float>, ArrayView<short>, int>(Kernel));
        kernel(new KernelConfig((blocks + WarpsPerGroup - 1) / WarpsPerGroup, WarpsPerGroup * 32), x, q, scales, sums, blocks);
    }

    private static void Kernel(ArrayView<float> x, ArrayView<sbyte> q, ArrayView<float> scales, ArrayView<short> sums, int blocks)
    {
        var block = Grid.IdxX * WarpsPerGroup + Warp.WarpIdx;
        if (block >= blocks) return;
        var lane = Warp.LaneIdx;
        var start = (long)block * 256 + lane * 8;

        // The value of largest magnitude, the first if tied: each lane's first, then the lowest index across lanes.
        var best = 0f;
        var bestValue = 0f;
        var bestIndex = int.MaxValue;
        for (var k = 0; k < 8; k++)
        {
            var v = x[start + k];
            if (IntrinsicMath.Abs(v) > best)
            {
                best = IntrinsicMath.Abs(v);
                bestValue = v;
                bestIndex = lane * 8 + k;
            }
        }
        for (var offset = 16; offset > 0; offset /= 2)
        {
            var otherBest = Warp.ShuffleXor(best, offset);
            var otherValue = Warp.ShuffleXor(bestValue, offset);
            var otherIndex = Warp.ShuffleXor(bestIndex, offset);
            if (otherBest > best || (otherBest == best && otherIndex < bestIndex))
            {
                best = otherBest;
                bestValue = otherValue;
                bestIndex = otherIndex;
            }
        }

        var inverseScale = best == 0 ? 0f : -127f / bestValue;
        var sum = 0;
        for (var k = 0; k < 8; k++)
        {
            var v = best == 0 ? 0 : IntrinsicMath.Min(127, Rounding.NearestInt(inverseScale * x[start + k]));
            q[start + k] = (sbyte)v;
            sum += v;
        }
        var runSum = sum + Warp.ShuffleXor(sum, 1); // lanes 2r and 2r+1 hold run r
        if ((lane & 1) == 0) sums[(long)block * 16 + lane / 2] = (short)runSum;
        if (lane == 0) scales[block] = best == 0 ? 0f : 1f / inverseScale;
    }
}
