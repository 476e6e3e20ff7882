using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace Vib3.Kernels.Gpu;

/// <summary>Attention on the device, one group per query: its warps take the positions' scores (lanes over the key's
/// values), the group softmaxes the scores it can see, then each thread sums output values over those positions. Two
/// forms share the kernel:
/// <list type="bullet">
/// <item><see cref="Decode"/> (<see cref="Attention.Decode"/>): one token's heads over a KV cache [positions, kvHeads,
/// headDim], f32 or f16, query head h reading kv head h / (heads / kvHeads), scores scaled by 1/sqrt(headDim);</item>
/// <item><see cref="Rows"/>: the same for several rows of one sequence at once (a prefill chunk), each row seeing its
/// own number of positions (the causal mask);</item>
/// <item><see cref="AttendLatents"/> (<see cref="MlaAttention.AttendLatents"/>): MLA's queries [q_lat | q_rope] over the
/// latent cache [positions, rank + ropeDim] that every head shares, each query seeing its own number of positions,
/// output the weighted latents [rank].</item>
/// </list></summary>
public static class GpuAttention
{
    /// <summary>Threads per group (one query) on a GPU: eight warps share the positions.</summary>
    private const int Threads = 256;

    /// <param name="q">[heads, headDim]</param>
    /// <param name="k">[positions, kvHeads, headDim]</param>
    /// <param name="v">[positions, kvHeads, headDim]</param>
    /// <param name="output">[heads, headDim]</param>
    /// <param name="scores">[heads, positions] scratch</param>
    public static void Decode(GpuDevice d, ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, int positions, int heads, int kvHeads,
        int headDim, ArrayView<float> output, ArrayView<float> scores)
    {
        var shape = DecodeShape(q.Length, k.Length, v.Length, positions, 1, heads, kvHeads, headDim, output.Length, scores.Length);
        d.Kernel("attention_f32", Load<DeviceFloats.F32>)(new KernelConfig(heads, d.GroupThreads(Threads)), q, new DeviceFloats.F32(k), new DeviceFloats.F32(v),
            output, scores, ArrayView<int>.Empty, shape);
    }

    /// <summary>As <see cref="Decode"/> for <paramref name="rows"/> rows of one sequence, row r attending over the first
    /// visible[r] positions of the cache (f32 or, <paramref name="k"/> and <paramref name="v"/> being ushort views, f16).</summary>
    /// <param name="q">[rows, heads, headDim]</param>
    /// <param name="k">[positions, kvHeads, headDim]</param>
    /// <param name="v">[positions, kvHeads, headDim]</param>
    /// <param name="visible">[rows]: positions each row sees, 1..positions</param>
    /// <param name="output">[rows, heads, headDim]</param>
    /// <param name="scores">[rows, heads, positions] scratch</param>
    public static void Rows(GpuDevice d, ArrayView<float> q, int rows, ArrayView<float> k, ArrayView<float> v, int positions, ArrayView<int> visible,
        int heads, int kvHeads, int headDim, ArrayView<float> output, ArrayView<float> scores)
    {
        var shape = RowsShape(q.Length, k.Length, v.Length, positions, rows, visible.Length, heads, kvHeads, headDim, output.Length, scores.Length);
        d.Kernel("attention_f32", Load<DeviceFloats.F32>)(new KernelConfig(rows * heads, d.GroupThreads(Threads)), q, new DeviceFloats.F32(k), new DeviceFloats.F32(v),
            output, scores, visible, shape);
    }

    /// <inheritdoc cref="Rows(GpuDevice, ArrayView{float}, int, ArrayView{float}, ArrayView{float}, int, ArrayView{int}, int, int, int, ArrayView{float}, ArrayView{float})"/>
    public static void Rows(GpuDevice d, ArrayView<float> q, int rows, ArrayView<ushort> k, ArrayView<ushort> v, int positions, ArrayView<int> visible,
        int heads, int kvHeads, int headDim, ArrayView<float> output, ArrayView<float> scores)
    {
        var shape = RowsShape(q.Length, k.Length, v.Length, positions, rows, visible.Length, heads, kvHeads, headDim, output.Length, scores.Length);
        d.Kernel("attention_f16", Load<DeviceFloats.F16>)(new KernelConfig(rows * heads, d.GroupThreads(Threads)), q, new DeviceFloats.F16(k), new DeviceFloats.F16(v),
            output, scores, visible, shape);
    }

    /// <summary>As <see cref="Decode"/> with an f16 cache (its values as IEEE half bits).</summary>
    public static void DecodeF16(GpuDevice d, ArrayView<float> q, ArrayView<ushort> k, ArrayView<ushort> v, int positions, int heads, int kvHeads,
        int headDim, ArrayView<float> output, ArrayView<float> scores)
    {
        var shape = DecodeShape(q.Length, k.Length, v.Length, positions, 1, heads, kvHeads, headDim, output.Length, scores.Length);
        d.Kernel("attention_f16", Load<DeviceFloats.F16>)(new KernelConfig(heads, d.GroupThreads(Threads)), q, new DeviceFloats.F16(k), new DeviceFloats.F16(v),
            output, scores, ArrayView<int>.Empty, shape);
    }

    /// <param name="cache">[positions, rank + ropeDim]: c_t | k_rope_t</param>
    /// <param name="queries">[m, rank + ropeDim]: q_lat | q_rope</param>
    /// <param name="visible">[m]: positions each query sees, 1..positions</param>
    /// <param name="output">[m, rank]</param>
    /// <param name="scores">[m, positions] scratch</param>
    public static void AttendLatents(GpuDevice d, ArrayView<float> cache, int positions, int rank, int ropeDim, ArrayView<float> queries, int m,
        ArrayView<int> visible, float scale, ArrayView<float> output, ArrayView<float> scores)
        => d.Kernel("attention_f32", Load<DeviceFloats.F32>)(new KernelConfig(m, d.GroupThreads(Threads)), queries, new DeviceFloats.F32(cache),
            new DeviceFloats.F32(cache), output, scores, visible,
            LatentShape(cache.Length, positions, rank, ropeDim, queries.Length, m, visible.Length, scale, output.Length, scores.Length));

    /// <summary>As above over an f16 latent cache (its values as IEEE half bits).</summary>
    public static void AttendLatents(GpuDevice d, ArrayView<ushort> cache, int positions, int rank, int ropeDim, ArrayView<float> queries, int m,
        ArrayView<int> visible, float scale, ArrayView<float> output, ArrayView<float> scores) =>
        d.Kernel("attention_f16", Load<DeviceFloats.F16>)(new KernelConfig(m, d.GroupThreads(Threads)), queries, new DeviceFloats.F16(cache),
            new DeviceFloats.F16(cache), output, scores, visible,
            LatentShape(cache.Length, positions, rank, ropeDim, queries.Length, m, visible.Length, scale, output.Length, scores.Length));

    private static Shape LatentShape(long cache, int positions, int rank, int ropeDim, long queries, int m, long visible, float scale, long output, long scores)
    {
        var w = rank + ropeDim;
        if (positions <= 0 || m <= 0 || rank <= 0 || ropeDim < 0 || cache < (long)positions * w || queries < (long)m * w
            || visible < m || output < (long)m * rank || scores < (long)m * positions)
            throw new ArgumentException($"latent attention: {m} queries of {w} over {positions} positions need a cache of {(long)positions * w}, " +
                                        $"{m} visible counts, an output of {(long)m * rank} and {(long)m * positions} scores");
        return new Shape(positions, 1, 1, w, rank, w, scale, Masked: 1);
    }

    /// <summary>The sizes, one kernel argument: queries come in rows of QueriesPerRow (a token's heads; 1 for latent
    /// queries); query q of its row reads kv group q / QueriesPerKv, whose key is KeyWidth values and value ValueWidth
    /// values at KvStride · position + group · KeyWidth; Masked: each row r sees visible[r] positions, else all of
    /// them. Scores are Positions apart.</summary>
    internal readonly record struct Shape(int Positions, int QueriesPerRow, int QueriesPerKv, int KeyWidth, int ValueWidth, int KvStride, float Scale,
        int Masked);

    private static Action<KernelConfig, ArrayView<float>, TCache, TCache, ArrayView<float>, ArrayView<float>, ArrayView<int>, Shape> Load<TCache>(
        Accelerator a) where TCache : struct, DeviceFloats.IReader =>
        a.LoadStreamKernel<ArrayView<float>, TCache, TCache, ArrayView<float>, ArrayView<float>, ArrayView<int>, Shape>(Kernel);

    private static Shape DecodeShape(long q, long k, long v, int positions, int rows, int heads, int kvHeads, int headDim, long output, long scores)
    {
        if (positions <= 0 || rows <= 0 || heads <= 0 || kvHeads <= 0 || headDim <= 0 || heads % kvHeads != 0)
            throw new ArgumentException($"attention: positions={positions} rows={rows} heads={heads} kvHeads={kvHeads} headDim={headDim} " +
                                        "(heads must be a multiple of kvHeads)");
        var kv = (long)positions * kvHeads * headDim;
        var queries = (long)rows * heads;
        if (q < queries * headDim || output < queries * headDim || k < kv || v < kv || scores < queries * positions)
            throw new ArgumentException("attention: a view is too short for the given shape");
        return new Shape(positions, heads, heads / kvHeads, headDim, headDim, kvHeads * headDim, 1f / MathF.Sqrt(headDim), Masked: 0);
    }

    private static Shape RowsShape(long q, long k, long v, int positions, int rows, long visible, int heads, int kvHeads, int headDim, long output,
        long scores)
    {
        if (visible < rows) throw new ArgumentException($"attention: {rows} rows need {rows} visible counts, got {visible}");
        return DecodeShape(q, k, v, positions, rows, heads, kvHeads, headDim, output, scores) with { Masked = 1 };
    }

    private static void Kernel<TCache>(ArrayView<float> q, TCache k, TCache v, ArrayView<float> output, ArrayView<float> scores,
        ArrayView<int> visible, Shape s) where TCache : struct, DeviceFloats.IReader
    {
        var h = Grid.IdxX;
        var seen = s.Masked != 0 ? visible[h / s.QueriesPerRow] : s.Positions;
        var offset = (long)(h % s.QueriesPerRow / s.QueriesPerKv) * s.KeyWidth;
        var query = (long)h * s.KeyWidth;
        var own = (long)h * s.Positions;
        var warps = Group.DimX / Warp.WarpSize;

        var max = float.NegativeInfinity;
        for (var p = Warp.WarpIdx; p < seen; p += warps)
        {
            var dot = 0f;
            for (var i = Warp.LaneIdx; i < s.KeyWidth; i += Warp.WarpSize) dot += q[query + i] * k.At((long)p * s.KvStride + offset + i);
            dot = WarpReduce.Sum(dot) * s.Scale;
            if (Warp.LaneIdx == 0) scores[own + p] = dot;
            max = IntrinsicMath.Max(max, dot);
        }
        max = WarpReduce.GroupMax(max); // the barrier inside also publishes the scores

        var sum = 0f;
        for (var p = Group.IdxX; p < seen; p += Group.DimX)
        {
            var e = XMath.Exp(scores[own + p] - max);
            scores[own + p] = e;
            sum += e;
        }
        var inverse = 1f / WarpReduce.GroupSum(sum);

        for (var i = Group.IdxX; i < s.ValueWidth; i += Group.DimX)
        {
            var o = 0f;
            for (var p = 0; p < seen; p++) o += scores[own + p] * inverse * v.At((long)p * s.KvStride + offset + i);
            output[(long)h * s.ValueWidth + i] = o;
        }
    }
}
