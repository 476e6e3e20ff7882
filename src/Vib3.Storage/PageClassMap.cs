namespace Vib3.Storage;

/// <summary>What reads a page gets, as far as caching cares.</summary>
public enum PageKind : byte
{
    /// <summary>Read by every token (attention, norms, routers, the output head): worth keeping above all else.</summary>
    Dense = 0,
    /// <summary>One bundle of a routed expert: read only by the tokens routed to that expert.</summary>
    Expert = 1,
    /// <summary>Read by some tokens only but not an expert (an untied token embedding: one row per token).</summary>
    Sparse = 2,
}

/// <summary>A page's class: its kind, and for expert pages the (layer, expert) they belong to (−1 otherwise).</summary>
public readonly record struct PageClass(PageKind Kind, int Layer, int Expert)
{
    public static readonly PageClass Dense = new(PageKind.Dense, -1, -1);
}

/// <summary>
/// Page id → <see cref="PageClass"/>, for expert-aware eviction policies and routing traces. The store knows
/// nothing about models; whoever opens it with a manifest builds this map (see Catalog/PageClassifier).
/// </summary>
public sealed class PageClassMap(PageClass[] classes) : IPageClasses
{
    private readonly PageClass[] _classes = classes;

    public int PageCount => _classes.Length;

    /// <summary>The class of <paramref name="page"/>; a page past the map (a map built for another store) counts as dense.</summary>
    public PageClass this[int page] => (uint)page < (uint)_classes.Length ? _classes[page] : PageClass.Dense;

    public bool IsDense(int page) => this[page].Kind == PageKind.Dense;
}
