using System.Globalization;
using Vib3.Core;

namespace Vib3.Storage.Catalog;

public static partial class ManifestValidator
{
    /// <summary>Every tensor is one the forward pass reads (<see cref="LayerSchema"/>), in a layer that exists and
    /// may hold it, with the shape the hyper-parameters give, cut into as many pages as its rows need; every layer has
    /// the tensors every layer has, so hyper.layers and hyper.leadingDenseLayers agree with the tensors.</summary>
    private static void Tensors(ManifestChecker c, ModelManifest m)
    {
        var h = m.Hyper;
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < m.Tensors.Count; i++)
        {
            var t = m.Tensors[i] ?? throw c.Fail($"tensors[{i}] is null");
            var field = $"tensors[{i}] ({t.Name})";
            if (!names.Add(t.Name)) throw c.Fail($"{field} appears twice");
            var (layer, baseName) = LayerSchema.Split(t.Name);
            var rule = LayerSchema.Find(baseName) ?? throw c.Fail($"{field} is not a tensor vib3 reads");
            CheckPlace(c, field, rule, layer, h);
            if (t.Role != rule.Role) throw c.Fail($"{field}.role is {ManifestChecker.Quote(t.Role)}, must be '{rule.Role}'");
            c.DType($"{field}.dType", t.DType);
            if (t.Shape.Length is < 1 or > 2 || t.Shape.Any(d => d < 1))
                throw c.Fail($"{field}.shape is {Show(t.Shape)}, must be [n] or [rows, cols] of positive sizes");
            var expected = rule.Shapes(h);
            if (!expected.Any(s => s.AsSpan().SequenceEqual(t.Shape)))
                throw c.Fail($"{field}.shape is {Show(t.Shape)}, the hyper-parameters give {string.Join(" or ", expected.Select(Show))} ([{rule.Formula}])");
            c.AtLeast($"{field}.rowsPerPage", t.RowsPerPage, 1);
            var rows = Rows(t);
            var pages = (rows + t.RowsPerPage - 1) / t.RowsPerPage;
            if (t.PageCount != pages)
                throw c.Fail($"{field}.pageCount is {t.PageCount}, its {rows} rows at {t.RowsPerPage} a page need {pages}");
            c.Between($"{field}.firstPage", t.FirstPage, 0, (long)m.PageCount - t.PageCount, "pageCount - its pages");
        }

        Require(c, names, LayerSchema.TokenEmbedding, "the model");
        Require(c, names, LayerSchema.OutputNorm, "the model");
        if (names.Contains(LayerSchema.Output) == h.TiedEmbeddings)
            throw c.Fail(h.TiedEmbeddings
                ? "hyper.tiedEmbeddings is true but the model has its own output tensor"
                : "hyper.tiedEmbeddings is false but the model has no output tensor");
        // Each layer has several tensors, so a layer count beyond the tensors' is refused before it is looped over.
        if (h.Layers > m.Tensors.Count)
            throw c.Fail($"hyper.layers is {h.Layers}, more than the {m.Tensors.Count} tensors could hold");
        for (var l = 0; l < h.Layers; l++)
        {
            foreach (var name in LayerSchema.EveryLayer) Require(c, names, LayerSchema.Layered(l, name), $"layer {l}");
            if (h.IsMoeLayer(l)) Require(c, names, LayerSchema.Layered(l, LayerSchema.Router), $"routed layer {l}");
            else foreach (var name in LayerSchema.EveryDenseLayer) Require(c, names, LayerSchema.Layered(l, name), $"dense layer {l}");
        }
    }

    private static void CheckPlace(ManifestChecker c, string field, SchemaTensor rule, int? layer, HyperParameters h)
    {
        if (layer is null != (rule.Place == TensorPlace.Model))
            throw c.Fail(layer is null ? $"{field} must belong to a layer (blk.N.{rule.BaseName})" : $"{field} must not belong to a layer");
        if (layer is not { } l) return;
        if (l >= h.Layers) throw c.Fail($"{field} is in layer {l}, but hyper.layers is {h.Layers}");
        if (rule.Place == TensorPlace.DenseLayer && h.IsMoeLayer(l))
            throw c.Fail($"{field} belongs to a dense layer, but layer {l} routes to experts (hyper.leadingDenseLayers is {h.LeadingDenseLayers})");
        if (rule.Place == TensorPlace.MoeLayer && !h.IsMoeLayer(l))
            throw c.Fail($"{field} belongs to a routed layer, but layer {l} is dense (hyper.leadingDenseLayers is {h.LeadingDenseLayers})");
    }

    /// <summary>One expert grid per routed layer, agreeing with the hyper-parameters and the page geometry.</summary>
    private static void ExpertGrids(ManifestChecker c, ModelManifest m, DType dtype)
    {
        var h = m.Hyper;
        var layers = new HashSet<int>();
        for (var i = 0; i < m.ExpertGrids.Count; i++)
        {
            var g = m.ExpertGrids[i] ?? throw c.Fail($"expertGrids[{i}] is null");
            var field = $"expertGrids[{i}]";
            c.Between($"{field}.layer", g.Layer, h.LeadingDenseLayers, h.Layers - 1L, "hyper.layers - 1");
            if (!layers.Add(g.Layer)) throw c.Fail($"{field}.layer {g.Layer} has a second expert grid");
            Same(c, $"{field}.experts", g.Experts, "hyper.experts", h.Experts);
            Same(c, $"{field}.expertHidden", g.ExpertHidden, "hyper.expertHidden", h.ExpertHidden);
            Same(c, $"{field}.dim", g.Dim, "hyper.dim", h.Dim);
            Same(c, $"{field}.bundleRows", g.BundleRows, "pageRows", m.PageRows);
            Same(c, $"{field}.bundlesPerExpert", g.BundlesPerExpert, "its expertHidden / bundleRows, rounded up",
                (h.ExpertHidden + m.PageRows - 1) / m.PageRows);
            // A quantised GGUF may keep some layers' experts in other types (llama.cpp's mixes): each grid names its own.
            var gateUp = c.DType($"{field}.dType", g.DType);
            if (gateUp != dtype && !gateUp.IsBlocked())
                throw c.Fail($"{field}.dType is '{g.DType}', must be the model's dtype '{m.DType}' (only block types mix)");
            if (g.DownDType is { } down && !(c.DType($"{field}.downDType", down).IsBlocked() && gateUp.IsBlocked()))
                throw c.Fail($"{field}.downDType is '{down}', but only block types mix (dType is '{g.DType}')");
            c.Between($"{field}.firstPage", g.FirstPage, 0, m.PageCount - GridPages(g), "pageCount - its pages");
            if (g.HotBundles is { } hot)
            {
                Same(c, $"{field}.hotBundles' length", hot.Length, "hyper.experts", h.Experts);
                for (var e = 0; e < hot.Length; e++) c.Between($"{field}.hotBundles[{e}]", hot[e], 0, g.BundlesPerExpert, "bundlesPerExpert");
            }
        }
        if (layers.Count != h.MoeLayers)
            throw c.Fail($"expertGrids has {layers.Count} layers of experts, but hyper.layers - hyper.leadingDenseLayers is {h.MoeLayers}");
    }

    /// <summary>Pages [0, pageCount) belong to exactly one tensor or expert grid each.</summary>
    private static void PagesCovered(ManifestChecker c, ModelManifest m)
    {
        var ranges = m.Tensors.Select(t => (First: (long)t.FirstPage, Count: (long)t.PageCount, What: $"tensor {t.Name}"))
            .Concat(m.ExpertGrids.Select(g => (First: (long)g.FirstPage, Count: GridPages(g), What: $"the experts of layer {g.Layer}")))
            .OrderBy(r => r.First).ToList();
        long next = 0;
        var previous = "the start";
        foreach (var (first, count, what) in ranges)
        {
            if (first < next) throw c.Fail($"{what} starts at page {first}, inside {previous}");
            if (first > next) throw c.Fail($"pages {next} to {first - 1} belong to no tensor (between {previous} and {what})");
            next = first + count;
            previous = what;
        }
        if (next != m.PageCount) throw c.Fail($"pageCount is {m.PageCount}, but the tensors and experts hold {next} pages");
    }

    /// <summary>The parameter counts shown to users are the tensors' and experts' sizes.</summary>
    private static void ParameterCounts(ManifestChecker c, ModelManifest m)
    {
        var h = m.Hyper;
        Int128 dense = 0;
        foreach (var t in m.Tensors) dense += (Int128)Rows(t) * t.Shape[^1];
        Int128 perExpert = (Int128)3 * h.Dim * h.ExpertHidden;
        var total = dense + (Int128)h.MoeLayers * h.Experts * perExpert;
        var active = dense + (Int128)h.MoeLayers * h.TopK * perExpert;
        if (m.Parameters != total) throw c.Fail($"parameters is {m.Parameters}, the tensors and experts hold {total}");
        if (m.ActiveParameters != active) throw c.Fail($"activeParameters is {m.ActiveParameters}, top-{h.TopK} of the experts gives {active}");
    }

    private static void Same(ManifestChecker c, string field, long value, string what, long expected)
    {
        if (value != expected) throw c.Fail($"{field} is {value}, must be {what} = {expected}");
    }

    private static void Require(ManifestChecker c, HashSet<string> names, string name, string where)
    {
        if (!names.Contains(name)) throw c.Fail($"{where} has no tensor {name}");
    }

    internal static long Rows(TensorEntry t) => t.Shape.Length == 1 ? 1 : t.Shape[0];

    internal static long GridPages(ExpertGridEntry g) => (long)g.Experts * g.BundlesPerExpert;

    private static string Show(long[] shape) => "[" + string.Join(", ", shape.Select(d => d.ToString(CultureInfo.InvariantCulture))) + "]";
}
