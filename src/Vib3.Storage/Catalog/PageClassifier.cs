namespace Vib3.Storage.Catalog;

/// <summary>Builds a model's <see cref="PageClassMap"/> from its manifest by the operator that reads each page
/// (<see cref="LayerSchema"/>): the <see cref="OperatorKind.Experts"/> operator's grid pages are (layer, expert)
/// pages; the <see cref="OperatorKind.Embed"/> operator's untied token embedding is sparse, since a token reads one
/// row (one page) of it, so pinning it like a matrix every token reads would waste the cache; every other tensor is
/// dense (read by every token).</summary>
public static class PageClassifier
{
    public static PageClassMap FromManifest(ModelManifest manifest)
    {
        var classes = new PageClass[manifest.PageCount];
        Array.Fill(classes, PageClass.Dense);
        if (!manifest.Hyper.TiedEmbeddings)
            foreach (var t in manifest.Tensors.Where(t => LayerSchema.Find(LayerSchema.Split(t.Name).BaseName)?.Operator == OperatorKind.Embed))
                for (var p = 0; p < t.PageCount; p++)
                    classes[t.FirstPage + p] = new PageClass(PageKind.Sparse, -1, -1);
        foreach (var g in manifest.ExpertGrids)
            for (var e = 0; e < g.Experts; e++)
                for (var b = 0; b < g.BundlesPerExpert; b++)
                    classes[g.PageOf(e, b)] = new PageClass(PageKind.Expert, g.Layer, e);
        return new PageClassMap(classes);
    }
}
