using Vib3.Core;
using Vib3.Storage.Catalog;

namespace Vib3.Convert.Planning;

/// <summary>The order pages are written in, and the manifest entries that say where each tensor's pages are:
/// dense tensors row chunk by row chunk, then per routed layer every expert's bundles. Page i is the i-th page handed
/// to the sink, so the entries are known without asking the log.</summary>
internal static class PageSequence
{
    public delegate void PageSink(ReadOnlySpan<byte> page);

    public static void Produce(ConversionPlan plan, PageAssembler pages, ModelManifest manifest, PageSink sink, CancellationToken ct)
    {
        var next = 0;
        foreach (var t in plan.Dense)
        {
            var rowsPerPage = plan.DenseRowsPerPage(t);
            var entry = new TensorEntry
            {
                Name = t.Name, Role = t.Role, DType = t.Target.Name(), Shape = t.Shape, SourceName = t.Source.Name,
                FirstPage = next, RowsPerPage = (int)rowsPerPage,
            };
            for (long row = 0; row < t.Rows; row += rowsPerPage)
            {
                ct.ThrowIfCancellationRequested();
                sink(pages.DenseChunk(t, row, Math.Min(rowsPerPage, t.Rows - row)));
                next++;
            }
            entry.PageCount = next - entry.FirstPage;
            manifest.Tensors.Add(entry);
        }

        var h = plan.Hyper;
        for (var l = h.LeadingDenseLayers; l < h.Layers; l++)
        {
            var types = plan.LayerExpertTypes[l] ?? throw new InvalidOperationException($"layer {l} has no expert types planned");
            manifest.ExpertGrids.Add(new ExpertGridEntry
            {
                Layer = l, Experts = h.Experts, ExpertHidden = h.ExpertHidden, Dim = h.Dim,
                BundleRows = plan.Geometry.BundleRows, BundlesPerExpert = plan.BundlesPerExpert,
                FirstPage = next, DType = types.GateUp.Name(), DownDType = types.Down == types.GateUp ? null : types.Down.Name(),
                HotBundles = plan.NeuronOrder?.HotBundles[l].ToArray(),
            });
            for (var e = 0; e < h.Experts; e++)
            {
                pages.LoadExpert(l, e);
                for (var b = 0; b < plan.BundlesPerExpert; b++)
                {
                    ct.ThrowIfCancellationRequested();
                    sink(pages.Bundle(b));
                    next++;
                }
            }
        }
    }
}
