namespace Vib3.Index;

/// <summary>How an <see cref="HnswIndex"/> is built.</summary>
/// <param name="M">Links each node keeps per upper layer (2·M on layer 0, where most of the search happens). Also sets
/// the level distribution: mL = 1/ln M, so each layer holds about 1/M of the one below.</param>
/// <param name="EfConstruction">Breadth of the search that finds an inserted node's neighbours: higher builds slower
/// and gives a better graph.</param>
/// <param name="Seed">Seeds the level draw. With <paramref name="Threads"/> = 1 the same vectors and options always give
/// the same graph (and the same saved bytes).</param>
/// <param name="Threads">Insert threads. Above 1 the insert order interleaves by timing, so the graph differs run to run
/// (levels do not: they are drawn up front from the seed); recall stays the same within noise.</param>
public sealed record HnswOptions(int M = 16, int EfConstruction = 200, ulong Seed = 1, int Threads = 1)
{
    /// <summary>Largest M accepted: beyond this a node's links outgrow what a search can use, and the file reader
    /// needs a bound to reject corrupt headers before allocating.</summary>
    public const int MaxM = 1024;

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid field.</summary>
    public void Validate()
    {
        if (M is < 2 or > MaxM)
            throw new ArgumentException($"HnswOptions.M must be between 2 and {MaxM} (mL = 1/ln M needs M ≥ 2), not {M}", nameof(M));
        if (EfConstruction < 1)
            throw new ArgumentException($"HnswOptions.EfConstruction must be at least 1, not {EfConstruction}", nameof(EfConstruction));
        if (Threads < 1)
            throw new ArgumentException($"HnswOptions.Threads must be at least 1, not {Threads}", nameof(Threads));
    }
}
