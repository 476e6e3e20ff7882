using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Vib3.Kernels;

/// <summary>Causal single-query attention for decode over a KV cache laid out [positions, kvHeads, headDim].
/// Query head h reads kv head h / (heads / kvHeads) (grouped-query attention); scores are scaled by
/// 1/sqrt(headDim) and softmaxed in f32. <c>scratch</c> needs at least <c>positions</c> floats; with
/// <c>heads · positions</c> (each head its own scores) and at least <see cref="ParallelMultiplyAdds"/> of work, the
/// heads are spread over the kernel threads. A head's arithmetic is the same either way, so are the bits.</summary>
public static unsafe class Attention
{
    /// <summary>q·k plus weight·v multiply-adds (heads · positions · headDim) below which the heads run on the calling
    /// thread: a hand-off to the kernel threads costs about as much as a few thousand of them.</summary>
    public const int ParallelMultiplyAdds = 32 * 1024;

    public static void Decode(ReadOnlySpan<float> q, ReadOnlySpan<float> kCache, ReadOnlySpan<float> vCache,
        int positions, int heads, int kvHeads, int headDim, Span<float> output, Span<float> scratch) =>
        Decode<float, F32Rows>(q, kCache, vCache, positions, heads, kvHeads, headDim, output, scratch);

    /// <summary>As <see cref="Decode"/> with an f16 KV cache (values widened to f32 before use).</summary>
    public static void DecodeF16(ReadOnlySpan<float> q, ReadOnlySpan<Half> kCache, ReadOnlySpan<Half> vCache,
        int positions, int heads, int kvHeads, int headDim, Span<float> output, Span<float> scratch) =>
        Decode<Half, F16Rows>(q, kCache, vCache, positions, heads, kvHeads, headDim, output, scratch);

    private static void Decode<T, TRows>(ReadOnlySpan<float> q, ReadOnlySpan<T> kCache, ReadOnlySpan<T> vCache,
        int positions, int heads, int kvHeads, int headDim, Span<float> output, Span<float> scratch) where T : unmanaged where TRows : IKvRows<T>
    {
        CheckArgs(q.Length, kCache.Length, vCache.Length, positions, heads, kvHeads, headDim, output.Length, scratch.Length);
        fixed (float* pq = q)
        fixed (T* pk = kCache)
        fixed (T* pv = vCache)
        fixed (float* po = output)
        fixed (float* ps = scratch)
            Run(new Heads<T, TRows>(pq, pk, pv, positions, heads, kvHeads, headDim, po, ps, OwnScores(positions, heads, scratch.Length)));
    }

    private static bool OwnScores(int positions, int heads, int scratchLength) => scratchLength >= (long)heads * positions;

    private static void Run<T, TRows>(Heads<T, TRows> job) where T : unmanaged where TRows : IKvRows<T>
    {
        job.Total = job.HeadCount;
        if (job.OwnScores && KernelThreads.Threads > 1 && job.MultiplyAdds >= ParallelMultiplyAdds)
        {
            job.Chunk = 1;
            KernelThreads.Run(job);
        }
        else
        {
            job.Chunk = job.HeadCount; // one claim: every head on this thread, in order
            job.Work();
        }
    }

    /// <summary>Heads [start, end) of one query; <paramref name="ownScores"/>: head h keeps its scores at
    /// scratch + h·positions (else all share scratch, one head at a time).</summary>
    private sealed class Heads<T, TRows>(float* q, T* k, T* v, int positions, int heads, int kvHeads, int headDim, float* output, float* scratch,
        bool ownScores) : PoolJob where T : unmanaged where TRows : IKvRows<T>
    {
        internal int HeadCount => heads;
        internal bool OwnScores => ownScores;
        internal long MultiplyAdds => 2L * heads * positions * headDim;

        protected override void Run(int start, int end)
        {
            var group = heads / kvHeads;
            var scale = 1f / MathF.Sqrt(headDim);
            var stride = kvHeads * headDim;
            var n = (long)positions * stride;
            for (var h = start; h < end; h++)
            {
                var scores = new Span<float>(scratch + (ownScores ? (long)h * positions : 0), positions);
                var qh = new ReadOnlySpan<float>(q + (long)h * headDim, headDim);
                var o = new Span<float>(output + (long)h * headDim, headDim);
                var offset = h / group * headDim;
                Head<T, TRows>(qh, new ReadOnlySpan<T>(k, checked((int)n)), new ReadOnlySpan<T>(v, checked((int)n)), positions, stride, offset, scale, o, scores);
            }
        }
    }

    /// <summary>One query head over its kv head (the values at offset + p·stride for position p).</summary>
    private static void Head<T, TRows>(ReadOnlySpan<float> qh, ReadOnlySpan<T> kCache, ReadOnlySpan<T> vCache, int positions, int stride,
        int offset, float scale, Span<float> o, Span<float> scores) where T : unmanaged where TRows : IKvRows<T>
    {
        var headDim = qh.Length;
        if (typeof(T) == typeof(float) && headDim == 64 && Vector512.IsHardwareAccelerated)
        {
            Head64(qh, MemoryMarshal.Cast<T, float>(kCache), MemoryMarshal.Cast<T, float>(vCache), positions, stride, offset, scale, o, scores);
            return;
        }
        if (typeof(T) == typeof(float) && headDim == 64 && Vector256.IsHardwareAccelerated)
        {
            Head64Narrow(qh, MemoryMarshal.Cast<T, float>(kCache), MemoryMarshal.Cast<T, float>(vCache), positions, stride, offset, scale, o, scores);
            return;
        }
        var buffer = !TRows.Widens ? default : headDim <= 1024 ? stackalloc float[headDim] : new float[headDim];
        for (var p = 0; p < positions; p++)
            scores[p] = TensorPrimitives.Dot(qh, TRows.Row(kCache.Slice(p * stride + offset, headDim), buffer)) * scale;
        Softmax.InPlace(scores);
        o.Clear();
        for (var p = 0; p < positions; p++)
            TensorPrimitives.MultiplyAdd(TRows.Row(vCache.Slice(p * stride + offset, headDim), buffer), scores[p], o, o);
    }

    /// <summary><see cref="Head{T, TRows}"/> for an f32 cache and 64-wide heads (Mixtral, Qwen-MoE, OLMoE): the
    /// query and the output in four 512-bit registers for every position, where a library call per position and
    /// row (a dot, then a multiply-add of 64 values) spent more in its checks than in its arithmetic. The weighted
    /// sum keeps the per-element order (o + p·v, not fused, position after position); the dot sums its products in
    /// another order than the library's, a rounding of the score.</summary>
    private static void Head64(ReadOnlySpan<float> qh, ReadOnlySpan<float> kCache, ReadOnlySpan<float> vCache, int positions, int stride,
        int offset, float scale, Span<float> o, Span<float> scores)
    {
        RequireHead64Room(kCache.Length, vCache.Length, positions, stride, offset, scores.Length, o.Length);
        fixed (float* pq = qh)
        fixed (float* pk = kCache)
        fixed (float* pv = vCache)
        fixed (float* ps = scores)
        fixed (float* po = o)
        {
            var (q0, q1, q2, q3) = (Vector512.Load(pq), Vector512.Load(pq + 16), Vector512.Load(pq + 32), Vector512.Load(pq + 48));
            for (var p = 0; p < positions; p++)
            {
                var k = pk + (long)p * stride + offset;
                var products = q0 * Vector512.Load(k) + q1 * Vector512.Load(k + 16) + (q2 * Vector512.Load(k + 32) + q3 * Vector512.Load(k + 48));
                ps[p] = Vector512.Sum(products) * scale;
            }
            Softmax.InPlace(new Span<float>(ps, positions));
            Vector512<float> o0 = default, o1 = default, o2 = default, o3 = default;
            for (var p = 0; p < positions; p++)
            {
                var v = pv + (long)p * stride + offset;
                var w = Vector512.Create(ps[p]);
                o0 += Vector512.Load(v) * w;
                o1 += Vector512.Load(v + 16) * w;
                o2 += Vector512.Load(v + 32) * w;
                o3 += Vector512.Load(v + 48) * w;
            }
            o0.Store(po);
            o1.Store(po + 16);
            o2.Store(po + 32);
            o3.Store(po + 48);
        }
    }

    /// <summary>The 64-wide heads read past no span's end: every position's 64 values, a score per position, 64 outputs.</summary>
    private static void RequireHead64Room(int kLength, int vLength, int positions, int stride, int offset, int scoresLength, int outputLength)
    {
        if ((long)(positions - 1) * stride + offset + 64 > Math.Min(kLength, vLength) || scoresLength < positions || outputLength < 64)
            throw new ArgumentException("attention head: the cache, scores or output is too short");
    }

    /// <summary><see cref="Head64"/> with 256-bit vectors (AVX2): the query, then the output, in eight registers.</summary>
    private static void Head64Narrow(ReadOnlySpan<float> qh, ReadOnlySpan<float> kCache, ReadOnlySpan<float> vCache, int positions, int stride,
        int offset, float scale, Span<float> o, Span<float> scores)
    {
        RequireHead64Room(kCache.Length, vCache.Length, positions, stride, offset, scores.Length, o.Length);
        fixed (float* pq = qh)
        fixed (float* pk = kCache)
        fixed (float* pv = vCache)
        fixed (float* ps = scores)
        fixed (float* po = o)
        {
            var (q0, q1, q2, q3) = (Vector256.Load(pq), Vector256.Load(pq + 8), Vector256.Load(pq + 16), Vector256.Load(pq + 24));
            var (q4, q5, q6, q7) = (Vector256.Load(pq + 32), Vector256.Load(pq + 40), Vector256.Load(pq + 48), Vector256.Load(pq + 56));
            for (var p = 0; p < positions; p++)
            {
                var k = pk + (long)p * stride + offset;
                var low = q0 * Vector256.Load(k) + q1 * Vector256.Load(k + 8) + (q2 * Vector256.Load(k + 16) + q3 * Vector256.Load(k + 24));
                var high = q4 * Vector256.Load(k + 32) + q5 * Vector256.Load(k + 40) + (q6 * Vector256.Load(k + 48) + q7 * Vector256.Load(k + 56));
                ps[p] = Vector256.Sum(low + high) * scale;
            }
            Softmax.InPlace(new Span<float>(ps, positions));
            Vector256<float> o0 = default, o1 = default, o2 = default, o3 = default, o4 = default, o5 = default, o6 = default, o7 = default;
            for (var p = 0; p < positions; p++)
            {
                var v = pv + (long)p * stride + offset;
                var w = Vector256.Create(ps[p]);
                o0 += Vector256.Load(v) * w;
                o1 += Vector256.Load(v + 8) * w;
                o2 += Vector256.Load(v + 16) * w;
                o3 += Vector256.Load(v + 24) * w;
                o4 += Vector256.Load(v + 32) * w;
                o5 += Vector256.Load(v + 40) * w;
                o6 += Vector256.Load(v + 48) * w;
                o7 += Vector256.Load(v + 56) * w;
            }
            o0.Store(po);
            o1.Store(po + 8);
            o2.Store(po + 16);
            o3.Store(po + 24);
            o4.Store(po + 32);
            o5.Store(po + 40);
            o6.Store(po + 48);
            o7.Store(po + 56);
        }
    }

    /// <summary>How a head reads one position's key or value row as f32.</summary>
    private interface IKvRows<T> where T : unmanaged
    {
        /// <summary>True where <see cref="Row"/> needs a buffer of the row's length.</summary>
        static abstract bool Widens { get; }

        static abstract ReadOnlySpan<float> Row(ReadOnlySpan<T> row, Span<float> buffer);
    }

    /// <summary>An f32 cache: its rows as they are.</summary>
    private readonly struct F32Rows : IKvRows<float>
    {
        public static bool Widens => false;

        public static ReadOnlySpan<float> Row(ReadOnlySpan<float> row, Span<float> buffer) => row;
    }

    /// <summary>An f16 cache: each row widened into the buffer before use.</summary>
    private readonly struct F16Rows : IKvRows<Half>
    {
        public static bool Widens => true;

        public static ReadOnlySpan<float> Row(ReadOnlySpan<Half> row, Span<float> buffer)
        {
            TensorPrimitives.ConvertToSingle(row, buffer);
            return buffer;
        }
    }

    /// <summary>Scalar oracle: dot products and weighted sums in double, softmax via <see cref="Softmax.Reference"/>.</summary>
    public static void Reference(ReadOnlySpan<float> q, ReadOnlySpan<float> kCache, ReadOnlySpan<float> vCache,
        int positions, int heads, int kvHeads, int headDim, Span<float> output, Span<float> scratch)
    {
        CheckArgs(q.Length, kCache.Length, vCache.Length, positions, heads, kvHeads, headDim, output.Length, scratch.Length);
        var group = heads / kvHeads;
        var scale = 1f / MathF.Sqrt(headDim);
        var stride = kvHeads * headDim;
        var scores = scratch[..positions];
        for (var h = 0; h < heads; h++)
        {
            var kvh = h / group;
            for (var p = 0; p < positions; p++)
            {
                double s = 0;
                for (var d = 0; d < headDim; d++) s += (double)q[h * headDim + d] * kCache[p * stride + kvh * headDim + d];
                scores[p] = (float)s * scale;
            }
            Softmax.Reference(scores);
            for (var d = 0; d < headDim; d++)
            {
                double s = 0;
                for (var p = 0; p < positions; p++) s += (double)scores[p] * vCache[p * stride + kvh * headDim + d];
                output[h * headDim + d] = (float)s;
            }
        }
    }

    private static void CheckArgs(int qLen, int kLen, int vLen, int positions, int heads, int kvHeads, int headDim, int outLen, int scratchLen)
    {
        if (positions <= 0 || heads <= 0 || kvHeads <= 0 || headDim <= 0 || heads % kvHeads != 0)
            throw new ArgumentException($"attention: positions={positions} heads={heads} kvHeads={kvHeads} headDim={headDim} (heads must be a multiple of kvHeads)");
        var kv = (long)positions * kvHeads * headDim;
        if (qLen < (long)heads * headDim || outLen < (long)heads * headDim || kLen < kv || vLen < kv || scratchLen < positions)
            throw new ArgumentException("attention: a span is too short for the given shape");
    }
}
