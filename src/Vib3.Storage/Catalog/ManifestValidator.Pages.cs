using Vib3.Core;

namespace Vib3.Storage.Catalog;

public static partial class ManifestValidator
{
    /// <summary>Holds a manifest that passed <see cref="Validate"/> to its store's page table: as many pages, each as
    /// long as the tensor rows or expert bundle it holds, so a shape and its pages can only change together. Costs one
    /// pass over the page table's rows in memory (no page is read).</summary>
    public static void ValidatePages(ModelManifest m, PageStore store, string model)
    {
        var c = new ManifestChecker(model);
        if (store.PageCount != m.PageCount)
            throw c.Fail($"pageCount is {m.PageCount}, but the page table holds {store.PageCount} pages");
        long bytes = 0;
        for (var p = 0; p < store.PageCount; p++)
        {
            var length = store.Entry(p).Length;
            if (length > m.MaxPageBytes) throw c.Fail($"maxPageBytes is {m.MaxPageBytes}, but page {p} is {length} bytes");
            bytes += length;
        }
        if (bytes != m.PageBytes) throw c.Fail($"pageBytes is {m.PageBytes}, but the page table's pages hold {bytes} bytes");

        foreach (var t in m.Tensors)
        {
            var type = DTypes.Parse(t.DType);
            var rows = Rows(t);
            for (var i = 0; i < t.PageCount; i++)
            {
                var rowsInPage = Math.Min(t.RowsPerPage, rows - (long)i * t.RowsPerPage);
                PageHolds(c, store, t.FirstPage + i, type.ByteCount(rowsInPage * t.Shape[^1]), $"rows of tensor {t.Name}");
            }
        }
        foreach (var g in m.ExpertGrids)
        {
            for (var b = 0; b < g.BundlesPerExpert; b++)
            {
                var expected = g.BundleBytes(g.RowsInBundle(b));
                for (var e = 0; e < g.Experts; e++)
                    PageHolds(c, store, g.PageOf(e, b), expected, $"bundle {b} of layer {g.Layer} expert {e}");
            }
        }
    }

    private static void PageHolds(ManifestChecker c, PageStore store, int page, long expected, string what)
    {
        var length = store.Entry(page).Length;
        if (length != expected)
            throw c.Fail($"page {page} is {length} bytes, but the {what} it holds take {expected} bytes (shape and pages disagree)");
    }
}
