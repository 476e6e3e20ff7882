namespace Vib3.Storage;

/// <summary>One layer's expert-page reads: served from RAM, joined to a read in progress, read from disk.</summary>
public readonly record struct LayerTierStats(int Layer, long Hits, long Joined, long Misses)
{
    /// <summary>Hits / all reads (0 before any).</summary>
    public double HitRate => Hits + Joined + Misses == 0 ? 0 : (double)Hits / (Hits + Joined + Misses);
}

/// <summary>Per-layer counters of expert-page reads, by the pages' classes (dense and sparse pages are not counted
/// here: the store's totals have them). Lock-free: one increment per read.</summary>
internal sealed class LayerTierCounters
{
    private readonly PageClassMap _classes;
    private readonly long[] _hits, _joined, _misses; // [layers]

    public LayerTierCounters(PageClassMap classes)
    {
        _classes = classes;
        var layers = 0;
        for (var p = 0; p < classes.PageCount; p++) layers = Math.Max(layers, classes[p].Layer + 1);
        (_hits, _joined, _misses) = (new long[layers], new long[layers], new long[layers]);
    }

    public void Hit(int page) => Count(_hits, page);

    public void Joined(int page) => Count(_joined, page);

    public void Miss(int page) => Count(_misses, page);

    private void Count(long[] counters, int page)
    {
        var c = _classes[page];
        if (c.Kind == PageKind.Expert) Interlocked.Increment(ref counters[c.Layer]);
    }

    public IReadOnlyList<LayerTierStats> Snapshot() =>
        Enumerable.Range(0, _hits.Length)
            .Select(l => new LayerTierStats(l, Interlocked.Read(ref _hits[l]), Interlocked.Read(ref _joined[l]), Interlocked.Read(ref _misses[l])))
            .ToArray();
}
