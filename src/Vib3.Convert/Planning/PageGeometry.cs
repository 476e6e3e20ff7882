using Vib3.Core;
using Vib3.Storage.Catalog;

namespace Vib3.Convert.Planning;

/// <summary>How a model is cut into pages: R (neuron rows per expert bundle) and the largest page.
/// The page log packs several pages into each of its own pages, so the size that matters is the aligned
/// buffer a page is read into: pages aim just under 2 MiB so that buffer is exactly 2 MiB.</summary>
public sealed record PageGeometry(int MaxPageBytes, int BundleRows)
{
    /// <summary>2 MiB less room for the log's record header and sector alignment of a read.</summary>
    public const int TargetPageBytes = (2 << 20) - 12 * 1024;

    /// <summary>An expert no bigger than this stays one page (small models).</summary>
    public const long SmallExpertBytes = 512 * 1024;

    /// <summary>Kernels like R in multiples of 32 (and 32-value blocks need it); smaller R only for very wide experts.</summary>
    private const int PreferredRowMultiple = 32;

    public static long BundleBytes(DType t, int dim, int r) => ExpertGridEntry.BundleBytes(t, dim, r);

    private static long BundleBytes(DType gateUp, DType down, int dim, int r) => ExpertGridEntry.BundleBytes(gateUp, down, dim, r);

    /// <param name="alignRows">The block length when a block type is involved (blocks must stay whole), else 1.</param>
    /// <param name="widestDenseRowBytes">The widest row of any dense tensor: a page holds at least one row.</param>
    public static PageGeometry Choose(DType t, int dim, int expertHidden, int alignRows, long widestDenseRowBytes, int? pageRows) =>
        Choose(t, t, dim, expertHidden, alignRows, widestDenseRowBytes, pageRows);

    /// <summary>As above for bundles whose gate/up rows are <paramref name="gateUp"/> and down slice <paramref name="down"/>
    /// (the widest layer's types where a quantised source mixes them).</summary>
    public static PageGeometry Choose(DType gateUp, DType down, int dim, int expertHidden, int alignRows, long widestDenseRowBytes, int? pageRows)
    {
        var chosen = ChosenRows(gateUp, down, dim, expertHidden, alignRows);
        var rows = chosen;
        if (pageRows is { } forced)
        {
            if (forced < 1 || forced > expertHidden || forced % alignRows != 0)
                throw new Vib3Exception(SqlState.InvalidParameterValue,
                    $"--page-rows {forced} must be between 1 and the expert hidden size {expertHidden}" +
                    (alignRows > 1 ? $" and a multiple of {alignRows} (the block length)" : ""));
            rows = forced;
        }
        // Dense tensors are cut into pages of the largest page, and a forced small R does not cut them smaller: they are
        // read whole by every token, so a thousand 1 KiB pieces would only multiply the per-page work (at R = 1 on
        // vib3-moe, 2,455 dense pages a token beside its 2,048 expert pages).
        var maxPage = Math.Max(Math.Max(BundleBytes(gateUp, down, dim, rows), BundleBytes(gateUp, down, dim, chosen)), widestDenseRowBytes);
        if (maxPage > 1 << 30)
            throw new Vib3Exception(SqlState.FeatureNotSupported, $"a page of {ByteSize.Format(maxPage)} is too large for the page log");
        return new PageGeometry((int)maxPage, rows);
    }

    /// <summary>R when none is forced: a small expert whole, else pages just under <see cref="TargetPageBytes"/>.</summary>
    private static int ChosenRows(DType gateUp, DType down, int dim, int expertHidden, int alignRows)
    {
        if (BundleBytes(gateUp, down, dim, expertHidden) <= SmallExpertBytes) return expertHidden;
        var align = Math.Max(alignRows, PreferredRowMultiple);
        var perRow = (double)BundleBytes(gateUp, down, dim, align) / align;
        var rows = (int)Math.Min(expertHidden, TargetPageBytes / perRow);
        if (rows < expertHidden && rows >= align) rows -= rows % align;
        return Math.Max(rows, alignRows);
    }
}
