namespace Vib3.Storage.Catalog;

/// <summary>Builds a model's <see cref="PageClassMap"/> from its manifest: expert grid pages are
/// (layer, expert) pages, tensor pages are dense, except an untied token embedding, which a token reads one
/// row (one page) of, so pinning it like a matrix every token reads would waste the cache.</summary>
public static class PageClassifier
{
    public static PageClassMap FromManifest(ModelManifest manifest)
    {
        var classes = new PageClass[manifest.PageCount];
        Array.Fill(classes, PageClass.Dense);
        if (!manifest.Hyper.TiedEmbeddings && manifest.Tensors.FirstOrDefault(t => t.Name == "token_embd") is { } embd)
            for (var p = 0; p < embd.PageCount; p++)
                classes[embd.FirstPage + p] = new PageClass(PageKind.Sparse, -1, -1);
        foreach (var g in manifest.ExpertGrids)
            for (var e = 0; e < g.Experts; e++)
                for (var b = 0; b < g.BundlesPerExpert; b++)
                    classes[g.PageOf(e, b)] = new PageClass(PageKind.Expert, g.Layer, e);
        return new PageClassMap(classes);
    }
}
