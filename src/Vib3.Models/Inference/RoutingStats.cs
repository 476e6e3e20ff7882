namespace Vib3.Models.Inference;

/// <summary>How often the router chose each expert of each layer, and the routing weight it gave in total:
/// the raw material of EXPLAIN ANALYZE's per-layer histograms and the vib3_experts table.</summary>
public sealed class RoutingStats
{
    private readonly long[][] _selected; // [layers][experts]
    private readonly double[][] _weight; // [layers][experts]

    public RoutingStats(int layers, int experts)
    {
        _selected = Enumerable.Range(0, layers).Select(_ => new long[experts]).ToArray();
        _weight = Enumerable.Range(0, layers).Select(_ => new double[experts]).ToArray();
    }

    public int Layers => _selected.Length;

    public int Experts => _selected.Length == 0 ? 0 : _selected[0].Length;

    /// <summary>Routing decisions made in a layer (tokens × top-k).</summary>
    public long Decisions(int layer) => _selected[layer].Sum();

    public long Selected(int layer, int expert) => Interlocked.Read(ref _selected[layer][expert]);

    public double TotalWeight(int layer, int expert) => _weight[layer][expert];

    internal void Record(int layer, ReadOnlySpan<int> experts, ReadOnlySpan<float> weights)
    {
        for (var i = 0; i < experts.Length; i++)
        {
            Interlocked.Increment(ref _selected[layer][experts[i]]);
            _weight[layer][experts[i]] += weights[i];
        }
    }

    public void Reset()
    {
        foreach (var row in _selected) Array.Clear(row);
        foreach (var row in _weight) Array.Clear(row);
    }
}
