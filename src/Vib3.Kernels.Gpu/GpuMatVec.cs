using ILGPU;
using ILGPU.Runtime;
using Vib3.Core;

namespace Vib3.Kernels.Gpu;

/// <summary><see cref="MatVec"/> and <see cref="MatMul"/> on the device: y[n, rows] = x[n, cols] · W[rows, cols]ᵀ for
/// the n vectors the input holds (a step's rows), W in its stored type. One warp per (row, vector), four rows per
/// group; every vector reads the weights again (a weakness for long prefills, where the CPU's tiles reuse them). The block types multiply integers as the CPU kernels do — W's quants against x's q8_0 or Q8_K
/// quants (<see cref="GpuMatVecInput"/>) — so the two differ only in the order the f32 partial sums are added.</summary>
public static class GpuMatVec
{
    /// <summary>Rows per group: one warp each.</summary>
    internal const int WarpsPerGroup = 4;

    /// <summary>The stored types with a device kernel; a matrix of another type runs on the CPU.</summary>
    public static bool Supports(DType t) => t is DType.F32 or DType.F16 or DType.BF16 or DType.Q8_0 or DType.Q4_K or DType.Q6_K;

    /// <param name="w">[rows, cols] in type <paramref name="t"/>, rows back to back</param>
    /// <param name="x">[n, cols]</param>
    /// <param name="y">[n, rows]</param>
    public static void Compute(GpuDevice d, DType t, ArrayView<byte> w, int rows, int cols, GpuMatVecInput x, ArrayView<float> y)
    {
        if (!Supports(t)) throw new NotSupportedException($"matvec: no device kernel for {t.Name()} weights");
        var rowBytes = t.ByteCount(cols);
        if (rows < 0 || cols < 0 || cols % t.BlockSize() != 0 || x.Length != cols || w.Length < rows * rowBytes || y.Length < (long)x.Count * rows)
            throw new ArgumentException(
                $"matvec {t.Name()}: {rows}x{cols} needs cols a multiple of {t.BlockSize()}, {rows * rowBytes} weight bytes, x of {cols} and y of " +
                $"{x.Count} x {rows}; got {w.Length} bytes, x {x.Length}, y {y.Length}");
        if (rows == 0 || x.Count == 0) return;
        var config = new KernelConfig(new Index2D((rows + WarpsPerGroup - 1) / WarpsPerGroup, x.Count), new Index2D(WarpsPerGroup * 32, 1));
        switch (t)
        {
            case DType.F32:
                d.Kernel("matvec_f32", a => a.LoadStreamKernel<DeviceFloats.F32, ArrayView<float>, ArrayView<float>, int, int>(GpuMatVecFloat.Kernel))
                    (config, new DeviceFloats.F32(w.Cast<float>()), x.Values, y, rows, cols);
                break;
            case DType.F16:
                d.Kernel("matvec_f16", a => a.LoadStreamKernel<DeviceFloats.F16, ArrayView<float>, ArrayView<float>, int, int>(GpuMatVecFloat.Kernel))
                    (config, new DeviceFloats.F16(w.Cast<ushort>()), x.Values, y, rows, cols);
                break;
            case DType.BF16:
                d.Kernel("matvec_bf16", a => a.LoadStreamKernel<DeviceFloats.BF16, ArrayView<float>, ArrayView<float>, int, int>(GpuMatVecFloat.Kernel))
                    (config, new DeviceFloats.BF16(w.Cast<ushort>()), x.Values, y, rows, cols);
                break;
            case DType.Q8_0:
            {
                var (q, scales) = x.Q8Form();
                d.Kernel("matvec_q8_0", a => a.LoadStreamKernel<ArrayView<byte>, ArrayView<sbyte>, ArrayView<float>, ArrayView<float>, int, int>(GpuMatVecQ8_0.Kernel))
                    (config, w, q, scales, y, rows, cols);
                break;
            }
            case DType.Q4_K:
            {
                var (q, scales, sums) = x.Q8KForm();
                d.Kernel("matvec_q4_k", a => a.LoadStreamKernel<ArrayView<byte>, ArrayView<sbyte>, ArrayView<float>, ArrayView<short>, ArrayView<float>, int, int>(GpuMatVecQ4K.Kernel))
                    (config, w, q, scales, sums, y, rows, cols);
                break;
            }
            case DType.Q6_K:
            {
                var (q, scales, _) = x.Q8KForm();
                d.Kernel("matvec_q6_k", a => a.LoadStreamKernel<ArrayView<byte>, ArrayView<sbyte>, ArrayView<float>, ArrayView<float>, int, int>(GpuMatVecQ6K.Kernel))
                    (config, w, q, scales, y, rows, cols);
                break;
            }
        }
    }

    /// <summary>Device code: the vector this warp multiplies.</summary>
    internal static int Input => Grid.IdxY;

    /// <summary>Device code: this warp's row, or −1 past the last.</summary>
    internal static int Row(int rows)
    {
        var row = Grid.IdxX * WarpsPerGroup + Warp.WarpIdx;
        return row < rows ? row : -1;
    }

    /// <summary>Device code: adds the warp's partial sums and stores y[vector, row].</summary>
    internal static void Finish(ArrayView<float> y, int rows, int row, float sum)
    {
        sum = WarpReduce.Sum(sum);
        if (Warp.LaneIdx == 0) y[(long)Input * rows + row] = sum;
    }

    /// <summary>Device code: where the warp's row of blocks starts in W (bytes) and its vector's quantised blocks in x
    /// (blocks), for a block type of <paramref name="blockValues"/> values in <paramref name="blockBytes"/> bytes.</summary>
    internal readonly struct BlockRow
    {
        public BlockRow(int row, int cols, int blockValues, int blockBytes)
        {
            Blocks = cols / blockValues;
            Start = (long)row * Blocks * blockBytes;
            FirstX = (long)Input * Blocks;
        }

        public int Blocks { get; }

        public long Start { get; }

        public long FirstX { get; }
    }

    /// <summary>Device code: the little-endian f16 at <paramref name="at"/>, as f32.</summary>
    internal static float F16At(ArrayView<byte> w, long at) => (float)Interop.IntAsFloat((ushort)(w[at] | (w[at + 1] << 8)));
}
