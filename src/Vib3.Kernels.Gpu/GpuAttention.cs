using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace Vib3.Kernels.Gpu;

/// <summary><see cref="Attention.Decode"/> on the device: one query (every head) over a KV cache in device memory laid
/// out [positions, kvHeads, headDim] (f32 or f16), query head h reading kv head h / (heads / kvHeads); scores scaled by
/// 1/sqrt(headDim) and softmaxed in f32. One group per head: its warps take the positions' scores (lanes over the head's
/// values), then the group softmaxes them, then each thread sums one output value over the positions.</summary>
public static class GpuAttention
{
    private const int Threads = 256;

    /// <param name="q">[heads, headDim]</param>
    /// <param name="k">[positions, kvHeads, headDim]</param>
    /// <param name="v">[positions, kvHeads, headDim]</param>
    /// <param name="output">[heads, headDim]</param>
    /// <param name="scores">[heads, positions] scratch</param>
    public static void Decode(GpuDevice d, ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, int positions, int heads, int kvHeads,
        int headDim, ArrayView<float> output, ArrayView<float> scores)
    {
        CheckArgs(q.Length, k.Length, v.Length, positions, heads, kvHeads, headDim, output.Length, scores.Length);
        d.Kernel("attention_f32", a => a.LoadStreamKernel<ArrayView<float>, DeviceFloats.F32, DeviceFloats.F32, ArrayView<float>, ArrayView<float>, Shape>(Kernel))
            (new KernelConfig(heads, Threads), q, new DeviceFloats.F32(k), new DeviceFloats.F32(v), output, scores, new Shape(positions, heads, kvHeads, headDim));
    }

    /// <summary>As <see cref="Decode"/> with an f16 cache (its values as IEEE half bits).</summary>
    public static void DecodeF16(GpuDevice d, ArrayView<float> q, ArrayView<ushort> k, ArrayView<ushort> v, int positions, int heads, int kvHeads,
        int headDim, ArrayView<float> output, ArrayView<float> scores)
    {
        CheckArgs(q.Length, k.Length, v.Length, positions, heads, kvHeads, headDim, output.Length, scores.Length);
        d.Kernel("attention_f16", a => a.LoadStreamKernel<ArrayView<float>, DeviceFloats.F16, DeviceFloats.F16, ArrayView<float>, ArrayView<float>, Shape>(Kernel))
            (new KernelConfig(heads, Threads), q, new DeviceFloats.F16(k), new DeviceFloats.F16(v), output, scores, new Shape(positions, heads, kvHeads, headDim));
    }

    /// <summary>The attention's sizes, one kernel argument.</summary>
    internal readonly record struct Shape(int Positions, int Heads, int KvHeads, int HeadDim);

    private static void CheckArgs(long q, long k, long v, int positions, int heads, int kvHeads, int headDim, long output, long scores)
    {
        if (positions <= 0 || heads <= 0 || kvHeads <= 0 || headDim <= 0 || heads % kvHeads != 0)
            throw new ArgumentException($"attention: positions={positions} heads={heads} kvHeads={kvHeads} headDim={headDim} (heads must be a multiple of kvHeads)");
        var kv = (long)positions * kvHeads * headDim;
        if (q < (long)heads * headDim || output < (long)heads * headDim || k < kv || v < kv || scores < (long)heads * positions)
            throw new ArgumentException("attention: a view is too short for the given shape");
    }

    private static void Kernel<TCache>(ArrayView<float> q, TCache k, TCache v, ArrayView<float> output, ArrayView<float> scores, Shape s)
        where TCache : struct, DeviceFloats.IReader
    {
        var h = Grid.IdxX;
        var stride = (long)s.KvHeads * s.HeadDim;
        var offset = (long)(h / (s.Heads / s.KvHeads)) * s.HeadDim;
        var query = (long)h * s.HeadDim;
        var own = (long)h * s.Positions;
        var scale = 1f / XMath.Sqrt(s.HeadDim);
        var warps = Group.DimX / Warp.WarpSize;

        var max = float.NegativeInfinity;
        for (var p = Warp.WarpIdx; p < s.Positions; p += warps)
        {
            var dot = 0f;
            for (var i = Warp.LaneIdx; i < s.HeadDim; i += Warp.WarpSize) dot += q[query + i] * k.At(p * stride + offset + i);
            dot = WarpReduce.Sum(dot) * scale;
            if (Warp.LaneIdx == 0) scores[own + p] = dot;
            max = IntrinsicMath.Max(max, dot);
        }
        max = WarpReduce.GroupMax(max); // the barrier inside also publishes the scores

        var sum = 0f;
        for (var p = Group.IdxX; p < s.Positions; p += Group.DimX)
        {
            var e = XMath.Exp(scores[own + p] - max);
            scores[own + p] = e;
            sum += e;
        }
        var inverse = 1f / WarpReduce.GroupSum(sum);

        for (var i = Group.IdxX; i < s.HeadDim; i += Group.DimX)
        {
            var o = 0f;
            for (var p = 0; p < s.Positions; p++) o += scores[own + p] * inverse * v.At(p * stride + offset + i);
            output[query + i] = o;
        }
    }
}
