using System.Numerics.Tensors;
using Vib3.Core;
using Vib3.Models.Weights;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Retrieval;

/// <summary>Page keys computed from the weights: one [dim] vector per expert bundle page of an MoE layer, summarising
/// the bundle's W_gate rows (what decides whether its neurons fire for a token). A query (the FFN-normalised hidden
/// state the router sees, L2-normalised) scored against the keys ranks the bundles by how strongly they should fire.</summary>
public static class PageKeys
{
    /// <summary>Power iterations of <see cref="PageKeyKind.SvdGate"/>: the gap between a bundle's first two singular
    /// values is rarely tiny, and the key only has to rank, not be exact.</summary>
    public const int PowerIterations = 32;

    /// <summary>Keys of every MoE layer of the model, read page by page through the store; <paramref name="progress"/>
    /// gets each finished layer.</summary>
    public static async Task<IReadOnlyList<PageKeyLayer>> BuildAsync(ModelWeights w, PageKeyKind kind, PageKeyMetric metric,
        Action<PageKeyLayer>? progress = null, CancellationToken ct = default)
    {
        var result = new List<PageKeyLayer>();
        foreach (var grid in w.ExpertGrids.Values.OrderBy(g => g.Layer))
        {
            var layer = await BuildLayerAsync(w, grid, kind, metric, ct).ConfigureAwait(false);
            result.Add(layer);
            progress?.Invoke(layer);
        }
        return result;
    }

    public static async Task<PageKeyLayer> BuildLayerAsync(ModelWeights w, ExpertGridEntry grid, PageKeyKind kind, PageKeyMetric metric, CancellationToken ct)
    {
        var pages = grid.Experts * grid.BundlesPerExpert;
        var dim = grid.Dim;
        var keys = new float[pages * dim]; // [pages, dim]
        var gate = new float[grid.BundleRows * dim]; // [r, dim]
        var up = new float[grid.BundleRows * dim];   // [r, dim]
        await w.StreamPagesAsync(grid.FirstPage, pages, (i, page) =>
        {
            var r = grid.RowsInBundle(i % grid.BundlesPerExpert);
            Dequantise(grid, w.StoredBytes(grid.FirstPage + i, page), r, gate, up);
            Key(kind, gate.AsSpan(0, r * dim), up.AsSpan(0, r * dim), r, dim, keys.AsSpan(i * dim, dim));
        }, ct).ConfigureAwait(false);
        return new PageKeyLayer(grid.Layer, pages, dim, kind, metric, keys);
    }

    /// <summary>A bundle page's gate rows and up rows as f32, each [r, dim].</summary>
    public static void Dequantise(ExpertGridEntry grid, ReadOnlySpan<byte> page, int r, Span<float> gate, Span<float> up)
    {
        var type = grid.GateUpType();
        var rowsBytes = (int)type.ByteCount((long)r * grid.Dim);
        DTypeConvert.ToF32(type, page[..rowsBytes], gate[..(r * grid.Dim)]);
        DTypeConvert.ToF32(type, page.Slice(rowsBytes, rowsBytes), up[..(r * grid.Dim)]);
    }

    /// <summary>One bundle's key [dim] from its gate rows [r, dim] (and up rows [r, dim] for GateUp).</summary>
    public static void Key(PageKeyKind kind, ReadOnlySpan<float> gate, ReadOnlySpan<float> up, int r, int dim, Span<float> key)
    {
        switch (kind)
        {
            case PageKeyKind.MeanGate:
                MeanOfUnitRows(gate, r, dim, key);
                break;
            case PageKeyKind.SvdGate:
                TopSingularVector(gate, r, dim, key);
                break;
            case PageKeyKind.GateUp:
                GateUpKey(gate, up, r, dim, key);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, null);
        }
    }

    private static void MeanOfUnitRows(ReadOnlySpan<float> rows, int r, int dim, Span<float> key)
    {
        key.Clear();
        for (var i = 0; i < r; i++)
        {
            var row = rows.Slice(i * dim, dim);
            var norm = TensorPrimitives.Norm(row);
            if (norm > 0) TensorPrimitives.MultiplyAdd(row, 1f / norm, key, key);
        }
        TensorPrimitives.Divide(key, r, key);
    }

    /// <summary>v ← Gᵀ(G v), normalised, from the mean unit row (a deterministic start that already leans toward the
    /// dominant direction); the sign makes mean(G v) positive, so a query aligned with the rows scores high.</summary>
    private static void TopSingularVector(ReadOnlySpan<float> rows, int r, int dim, Span<float> v)
    {
        MeanOfUnitRows(rows, r, dim, v);
        if (TensorPrimitives.Norm(v) == 0) v.Fill(1);
        var projected = new float[r]; // [r] G v
        for (var it = 0; it < PowerIterations; it++)
        {
            for (var i = 0; i < r; i++) projected[i] = TensorPrimitives.Dot(rows.Slice(i * dim, dim), v);
            v.Clear();
            for (var i = 0; i < r; i++) TensorPrimitives.MultiplyAdd(rows.Slice(i * dim, dim), projected[i], v, v);
            var norm = TensorPrimitives.Norm(v);
            if (norm == 0) break;
            TensorPrimitives.Divide(v, norm, v);
        }
        var mean = 0f;
        for (var i = 0; i < r; i++) mean += TensorPrimitives.Dot(rows.Slice(i * dim, dim), v);
        if (mean < 0) TensorPrimitives.Negate(v, v);
    }

    /// <summary>Mean over rows of unit(ĝ + s·û), s = sign(g·u): a neuron's output silu(g·x)(u·x) is large when x
    /// aligns with g and |u·x| is large; where u agrees (or disagrees) with g, that direction adds to the key.</summary>
    private static void GateUpKey(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, int r, int dim, Span<float> key)
    {
        key.Clear();
        var tmp = new float[dim]; // [dim]
        for (var i = 0; i < r; i++)
        {
            var g = gate.Slice(i * dim, dim);
            var u = up.Slice(i * dim, dim);
            var (gn, un) = (TensorPrimitives.Norm(g), TensorPrimitives.Norm(u));
            if (gn == 0) continue;
            var s = TensorPrimitives.Dot(g, u) >= 0 ? 1f : -1f;
            TensorPrimitives.Multiply(g, 1f / gn, tmp);
            if (un > 0) TensorPrimitives.MultiplyAdd(u, s / un, tmp, tmp);
            var tn = TensorPrimitives.Norm(tmp);
            if (tn > 0) TensorPrimitives.MultiplyAdd(tmp, 1f / tn, key, key);
        }
        TensorPrimitives.Divide(key, r, key);
    }
}
