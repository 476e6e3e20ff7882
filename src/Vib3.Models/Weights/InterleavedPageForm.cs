using Vib3.Core;
using Vib3.Kernels;
using Vib3.Kernels.Quant;
using Vib3.Storage;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Weights;

/// <summary>
/// Weight pages held in RAM with their Q4_K / Q5_K / Q6_K matrices interleaved (<see cref="WeightLayout.Interleaved"/>, eight
/// rows' blocks together in the rows' own bytes), as llama.cpp's CPU backend repacks such weights when it loads them:
/// the tile kernel then reads them as they are for one input or many, with no repack per call, and gives the same
/// bits. A part is interleaved where its type has the form, on a CPU with AVX-512 VBMI (its rows after the last whole
/// group of eight, if any, stay as stored):
/// <list type="bullet">
/// <item>expert bundle pages ([2r, dim] gate-and-up rows, then the [dim, r] down slice), each part per grid, for every
/// bundle of it;</item>
/// <item>dense matrices that the forward pass only multiplies, page by page (not the token embeddings, read a row at a
/// time, nor latent attention's per-head k_b and v_b).</item>
/// </list>
/// Pages keep their checksums and stored bytes: the store verifies the stored bytes, then rewrites the page in place
/// (<see cref="ToMemory"/>); <see cref="ToStored"/> gives them back.
/// </summary>
public sealed class InterleavedPageForm : IPageMemoryForm
{
    /// <summary>Dense tensors read other than by whole-page products (name suffixes).</summary>
    private static readonly string[] ReadByRowsOrHeads = ["token_embd", "attn_k_b", "attn_v_b"];

    private readonly ExpertGridEntry[] _grids; // by FirstPage
    private readonly Dictionary<int, (WeightLayout GateUp, WeightLayout Down)> _layouts; // by layer
    private readonly TensorEntry[] _dense; // the interleaved dense tensors, by FirstPage

    private InterleavedPageForm(ExpertGridEntry[] grids, Dictionary<int, (WeightLayout, WeightLayout)> layouts, TensorEntry[] dense)
    {
        _grids = grids;
        _layouts = layouts;
        _dense = dense;
    }

    /// <summary>The form for <paramref name="manifest"/>'s pages, or null where none can be interleaved (other types,
    /// or a CPU without the kernel).</summary>
    public static InterleavedPageForm? For(ModelManifest manifest)
    {
        var layouts = new Dictionary<int, (WeightLayout, WeightLayout)>();
        foreach (var g in manifest.ExpertGrids)
        {
            var gateUp = InterleavedMatrix.Supports(g.GateUpType()) ? WeightLayout.Interleaved : WeightLayout.Rows;
            var down = InterleavedMatrix.Supports(g.DownType()) ? WeightLayout.Interleaved : WeightLayout.Rows;
            layouts[g.Layer] = (gateUp, down);
        }
        var dense = manifest.Tensors.Where(Interleavable).OrderBy(t => t.FirstPage).ToArray();
        if (dense.Length == 0 && layouts.Values.All(l => l == (WeightLayout.Rows, WeightLayout.Rows))) return null;
        return new InterleavedPageForm([.. manifest.ExpertGrids.OrderBy(g => g.FirstPage)], layouts, dense);
    }

    private static bool Interleavable(TensorEntry t)
    {
        if (t.Shape.Length != 2 || ReadByRowsOrHeads.Any(name => t.Name.EndsWith(name, StringComparison.Ordinal))) return false;
        return InterleavedMatrix.Supports(DTypes.Parse(t.DType));
    }

    /// <summary>How the dense tensor <paramref name="t"/>'s pages hold its rows.</summary>
    public WeightLayout Layout(TensorEntry t) => Array.BinarySearch(_dense, t, ByFirstPage) >= 0 ? WeightLayout.Interleaved : WeightLayout.Rows;

    private static readonly Comparer<TensorEntry> ByFirstPage = Comparer<TensorEntry>.Create((a, b) => a.FirstPage.CompareTo(b.FirstPage));

    /// <summary>How layer <paramref name="grid"/>'s gate-and-up rows and its down slices are held.</summary>
    public (WeightLayout GateUp, WeightLayout Down) Layouts(ExpertGridEntry grid) =>
        _layouts.TryGetValue(grid.Layer, out var l) ? l : (WeightLayout.Rows, WeightLayout.Rows);

    public void ToMemory(int page, Span<byte> bytes) => Rewrite(page, bytes, toMemory: true);

    public void ToStored(int page, Span<byte> bytes) => Rewrite(page, bytes, toMemory: false);

    private void Rewrite(int page, Span<byte> bytes, bool toMemory)
    {
        if (DenseOf(page) is { } t)
        {
            var rows = Math.Min(t.RowsPerPage, checked((int)t.Shape[0]) - (page - t.FirstPage) * t.RowsPerPage);
            Rewrite(DTypes.Parse(t.DType), bytes, rows, checked((int)t.Shape[1]), toMemory);
            return;
        }
        if (GridOf(page) is not { } g) return; // held as stored
        var (gateUpLayout, downLayout) = Layouts(g);
        var r = g.RowsInBundle((page - g.FirstPage) % g.BundlesPerExpert);
        var gateUpBytes = (int)(2 * g.GateUpType().ByteCount((long)r * g.Dim));
        if (gateUpLayout == WeightLayout.Interleaved) Rewrite(g.GateUpType(), bytes[..gateUpBytes], 2 * r, g.Dim, toMemory);
        if (downLayout == WeightLayout.Interleaved) Rewrite(g.DownType(), bytes[gateUpBytes..], g.Dim, r, toMemory);
    }

    private static void Rewrite(DType t, Span<byte> matrix, int rows, int cols, bool toMemory)
    {
        if (toMemory) InterleavedMatrix.Interleave(t, matrix, rows, cols);
        else InterleavedMatrix.Deinterleave(t, matrix, rows, cols);
    }

    private TensorEntry? DenseOf(int page) => Holding(_dense, page, t => t.FirstPage, t => t.PageCount);

    private ExpertGridEntry? GridOf(int page) => Holding(_grids, page, g => g.FirstPage, g => g.Experts * g.BundlesPerExpert);

    /// <summary>The entry of <paramref name="sorted"/> (by first page, ranges disjoint) whose pages hold <paramref name="page"/>.</summary>
    private static T? Holding<T>(T[] sorted, int page, Func<T, int> first, Func<T, int> count) where T : class
    {
        int lo = 0, hi = sorted.Length - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) / 2;
            if (page < first(sorted[mid])) hi = mid - 1;
            else if (page >= first(sorted[mid]) + count(sorted[mid])) lo = mid + 1;
            else return sorted[mid];
        }
        return null;
    }
}
