using Vib3.Core;
using Vib3.Kernels;
using Vib3.Kernels.Quant;
using Vib3.Storage;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Weights;

/// <summary>
/// Expert bundle pages held in RAM with their Q4_K / Q6_K matrices interleaved (<see cref="WeightLayout.Interleaved"/>,
/// eight rows' blocks together in the rows' own bytes), as llama.cpp's CPU backend repacks such weights when it loads
/// them: the tile kernel then reads them as they are for one input or many, with no repack per call, and gives the
/// same bits. A bundle page is [2r, dim] gate-and-up rows, then the [dim, r] down slice; each part is interleaved
/// where its type has the form and its rows are a multiple of eight on a CPU with AVX-512 VBMI, per grid, for every
/// bundle of it. Pages keep their checksums and stored bytes: the store verifies the stored bytes, then rewrites
/// the page in place (<see cref="ToMemory"/>); <see cref="ToStored"/> gives them back.
/// </summary>
public sealed class ExpertPageForm : IPageMemoryForm
{
    private readonly ExpertGridEntry[] _grids; // by FirstPage
    private readonly Dictionary<int, (WeightLayout GateUp, WeightLayout Down)> _layouts; // by layer

    private ExpertPageForm(ExpertGridEntry[] grids, Dictionary<int, (WeightLayout, WeightLayout)> layouts)
    {
        _grids = grids;
        _layouts = layouts;
    }

    /// <summary>The form for <paramref name="manifest"/>'s expert pages, or null where no part of any can be
    /// interleaved (other types, or a CPU without the kernel).</summary>
    public static ExpertPageForm? For(ModelManifest manifest)
    {
        var layouts = new Dictionary<int, (WeightLayout, WeightLayout)>();
        foreach (var g in manifest.ExpertGrids)
        {
            var bundles = Enumerable.Range(0, g.BundlesPerExpert).Select(g.RowsInBundle).ToArray();
            var gateUp = bundles.All(r => InterleavedMatrix.Supports(g.GateUpType(), 2 * r)) ? WeightLayout.Interleaved : WeightLayout.Rows;
            var down = InterleavedMatrix.Supports(g.DownType(), g.Dim) ? WeightLayout.Interleaved : WeightLayout.Rows;
            layouts[g.Layer] = (gateUp, down);
        }
        if (layouts.Values.All(l => l == (WeightLayout.Rows, WeightLayout.Rows))) return null;
        return new ExpertPageForm([.. manifest.ExpertGrids.OrderBy(g => g.FirstPage)], layouts);
    }

    /// <summary>How layer <paramref name="grid"/>'s gate-and-up rows and its down slices are held.</summary>
    public (WeightLayout GateUp, WeightLayout Down) Layouts(ExpertGridEntry grid) =>
        _layouts.TryGetValue(grid.Layer, out var l) ? l : (WeightLayout.Rows, WeightLayout.Rows);

    public void ToMemory(int page, Span<byte> bytes) => Rewrite(page, bytes, toMemory: true);

    public void ToStored(int page, Span<byte> bytes) => Rewrite(page, bytes, toMemory: false);

    private void Rewrite(int page, Span<byte> bytes, bool toMemory)
    {
        if (GridOf(page) is not { } g) return; // not an expert page: held as stored
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

    private ExpertGridEntry? GridOf(int page)
    {
        int lo = 0, hi = _grids.Length - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) / 2;
            var g = _grids[mid];
            if (page < g.FirstPage) hi = mid - 1;
            else if (page >= g.FirstPage + g.Experts * g.BundlesPerExpert) lo = mid + 1;
            else return g;
        }
        return null;
    }
}
