using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Vib3.Kernels;

/// <summary>
/// output[j] = Σ_t p[j, t] · row_t for n weight vectors p [n, count] over count rows [width] read in place at a
/// stride (attention's probabilities times its value rows: MLA's latents c_t, which sit in the cache beside their
/// roped keys). Each output element is one chain acc = fma(p[j, t], row_t[l], acc) over t = 0, 1, …, so the result
/// of a query does not depend on n, on the tiling or on the thread that computed it, and <see cref="Reference"/>
/// gives the same bits. The rows are read in place: no transposed copy of the cache per call, which had cost a scalar
/// copy of every cached element at every decode step.
/// </summary>
public static unsafe class WeightedRows
{
    /// <summary>Queries per register tile: each row vector loaded feeds four of them.</summary>
    private const int TileQueries = 4;

    /// <summary>Floats per register tile: four 256-bit accumulators a query, sixteen in all.</summary>
    private const int TileWidth = 4 * 8;

    /// <summary>Multiply-adds (n·count·width) below which the call runs on the calling thread only.</summary>
    private const long ParallelWork = 1 << 18;

    public static void Compute(ReadOnlySpan<float> p, int n, int count, ReadOnlySpan<float> rows, int stride, int width, Span<float> output)
    {
        Check(p, n, count, rows, stride, width, output);
        if (n == 0 || width == 0) return;
        if (count == 0)
        {
            output[..(n * width)].Clear();
            return;
        }
        fixed (float* pp = p)
        fixed (float* pr = rows)
        fixed (float* po = output)
        {
            var (pq, rr, oo) = ((nint)pp, (nint)pr, (nint)po);
            var queryTiles = (n + TileQueries - 1) / TileQueries;
            var widthTiles = (width + TileWidth - 1) / TileWidth;
            if ((long)n * count * width < ParallelWork || KernelThreads.Threads == 1)
                for (var tile = 0; tile < queryTiles * widthTiles; tile++) Tile((float*)pq, n, count, (float*)rr, stride, width, (float*)oo, tile, widthTiles);
            else
                KernelThreads.ParallelFor(queryTiles * widthTiles, tile => Tile((float*)pq, n, count, (float*)rr, stride, width, (float*)oo, tile, widthTiles));
        }
    }

    /// <summary>One register tile: queries 4q…4q+3 (fewer at the end) × columns 32c…32c+31 (the last tile's tail
    /// column by column, with the same fused multiply-adds).</summary>
    private static void Tile(float* p, int n, int count, float* rows, int stride, int width, float* output, int tile, int widthTiles)
    {
        var q0 = tile / widthTiles * TileQueries;
        var l0 = tile % widthTiles * TileWidth;
        var queries = Math.Min(TileQueries, n - q0);
        if (l0 + TileWidth > width || !Vector256.IsHardwareAccelerated)
        {
            for (var j = q0; j < q0 + queries; j++)
                for (var l = l0; l < Math.Min(width, l0 + TileWidth); l++) output[(long)j * width + l] = Element(p + (long)j * count, count, rows + l, stride);
            return;
        }
        // A short last tile repeats its last query: computed, never stored.
        var p0 = Query(p, count, q0, 0, queries);
        var p1 = Query(p, count, q0, 1, queries);
        var p2 = Query(p, count, q0, 2, queries);
        var p3 = Query(p, count, q0, 3, queries);
        Vector256<float> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector256<float> a10 = default, a11 = default, a12 = default, a13 = default;
        Vector256<float> a20 = default, a21 = default, a22 = default, a23 = default;
        Vector256<float> a30 = default, a31 = default, a32 = default, a33 = default;
        var row = rows + l0;
        for (var t = 0; t < count; t++, row += stride)
        {
            var (r0, r1, r2, r3) = (Vector256.Load(row), Vector256.Load(row + 8), Vector256.Load(row + 16), Vector256.Load(row + 24));
            var w = Vector256.Create(p0[t]);
            (a00, a01, a02, a03) = (Fma(w, r0, a00), Fma(w, r1, a01), Fma(w, r2, a02), Fma(w, r3, a03));
            w = Vector256.Create(p1[t]);
            (a10, a11, a12, a13) = (Fma(w, r0, a10), Fma(w, r1, a11), Fma(w, r2, a12), Fma(w, r3, a13));
            w = Vector256.Create(p2[t]);
            (a20, a21, a22, a23) = (Fma(w, r0, a20), Fma(w, r1, a21), Fma(w, r2, a22), Fma(w, r3, a23));
            w = Vector256.Create(p3[t]);
            (a30, a31, a32, a33) = (Fma(w, r0, a30), Fma(w, r1, a31), Fma(w, r2, a32), Fma(w, r3, a33));
        }
        Store(output + (long)q0 * width + l0, a00, a01, a02, a03);
        if (queries > 1) Store(output + (long)(q0 + 1) * width + l0, a10, a11, a12, a13);
        if (queries > 2) Store(output + (long)(q0 + 2) * width + l0, a20, a21, a22, a23);
        if (queries > 3) Store(output + (long)(q0 + 3) * width + l0, a30, a31, a32, a33);
    }

    private static float* Query(float* p, int count, int q0, int k, int queries) => p + (long)(q0 + Math.Min(k, queries - 1)) * count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);

    private static void Store(float* o, Vector256<float> a, Vector256<float> b, Vector256<float> c, Vector256<float> d)
    {
        a.Store(o);
        b.Store(o + 8);
        c.Store(o + 16);
        d.Store(o + 24);
    }

    /// <summary>One output element: the chain every path computes.</summary>
    private static float Element(float* p, int count, float* column, int stride)
    {
        var acc = 0f;
        for (var t = 0; t < count; t++) acc = MathF.FusedMultiplyAdd(p[t], column[(long)t * stride], acc);
        return acc;
    }

    /// <summary>The definition, element by element: what <see cref="Compute"/> must equal bit for bit.</summary>
    public static void Reference(ReadOnlySpan<float> p, int n, int count, ReadOnlySpan<float> rows, int stride, int width, Span<float> output)
    {
        Check(p, n, count, rows, stride, width, output);
        for (var j = 0; j < n; j++)
            for (var l = 0; l < width; l++)
            {
                var acc = 0f;
                for (var t = 0; t < count; t++) acc = MathF.FusedMultiplyAdd(p[j * count + t], rows[t * stride + l], acc);
                output[j * width + l] = acc;
            }
    }

    private static void Check(ReadOnlySpan<float> p, int n, int count, ReadOnlySpan<float> rows, int stride, int width, Span<float> output)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfNegative(width);
        if (stride < width) throw new ArgumentOutOfRangeException(nameof(stride), stride, $"rows of {width} floats need a stride of at least {width}");
        if (p.Length < (long)n * count) throw new ArgumentException($"need {(long)n * count} weights, got {p.Length}", nameof(p));
        if (count > 0 && rows.Length < (long)(count - 1) * stride + width)
            throw new ArgumentException($"need {(long)(count - 1) * stride + width} floats of rows, got {rows.Length}", nameof(rows));
        if (output.Length < (long)n * width) throw new ArgumentException($"need {(long)n * width} outputs, got {output.Length}", nameof(output));
    }
}
