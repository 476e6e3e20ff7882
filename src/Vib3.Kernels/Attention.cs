using System.Numerics.Tensors;

namespace Vib3.Kernels;

/// <summary>Causal single-query attention for decode over a KV cache laid out [positions, kvHeads, headDim].
/// Query head h reads kv head h / (heads / kvHeads) (grouped-query attention); scores are scaled by
/// 1/sqrt(headDim) and softmaxed in f32. <c>scratch</c> needs at least <c>positions</c> floats.</summary>
public static class Attention
{
    public static void Decode(ReadOnlySpan<float> q, ReadOnlySpan<float> kCache, ReadOnlySpan<float> vCache,
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
            var qh = q.Slice(h * headDim, headDim);
            for (var p = 0; p < positions; p++)
                scores[p] = TensorPrimitives.Dot(qh, kCache.Slice(p * stride + kvh * headDim, headDim)) * scale;
            Softmax.InPlace(scores);
            var o = output.Slice(h * headDim, headDim);
            o.Clear();
            for (var p = 0; p < positions; p++)
                TensorPrimitives.MultiplyAdd(vCache.Slice(p * stride + kvh * headDim, headDim), scores[p], o, o);
        }
    }

    /// <summary>As <see cref="Decode"/> with an f16 KV cache (values widened to f32 before use).</summary>
    public static void DecodeF16(ReadOnlySpan<float> q, ReadOnlySpan<Half> kCache, ReadOnlySpan<Half> vCache,
        int positions, int heads, int kvHeads, int headDim, Span<float> output, Span<float> scratch)
    {
        CheckArgs(q.Length, kCache.Length, vCache.Length, positions, heads, kvHeads, headDim, output.Length, scratch.Length);
        var group = heads / kvHeads;
        var scale = 1f / MathF.Sqrt(headDim);
        var stride = kvHeads * headDim;
        var scores = scratch[..positions];
        var row = headDim <= 1024 ? stackalloc float[headDim] : new float[headDim];
        for (var h = 0; h < heads; h++)
        {
            var kvh = h / group;
            var qh = q.Slice(h * headDim, headDim);
            for (var p = 0; p < positions; p++)
            {
                TensorPrimitives.ConvertToSingle(kCache.Slice(p * stride + kvh * headDim, headDim), row);
                scores[p] = TensorPrimitives.Dot(qh, row) * scale;
            }
            Softmax.InPlace(scores);
            var o = output.Slice(h * headDim, headDim);
            o.Clear();
            for (var p = 0; p < positions; p++)
            {
                TensorPrimitives.ConvertToSingle(vCache.Slice(p * stride + kvh * headDim, headDim), row);
                TensorPrimitives.MultiplyAdd(row, scores[p], o, o);
            }
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
