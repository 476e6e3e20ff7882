using System.Numerics;
using Vib3.Core;
using Vib3.Models.Inference;
using Vib3.Models.Weights;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Retrieval;

/// <summary>Watches a forward pass run calibration text with exact routing and lays the experts' neurons out by
/// co-activation (<see cref="Order"/>). For every token and each expert the router chose, a neuron's contribution is
/// |silu(W_gate[i]·x) · (W_up[i]·x)| · ‖W_down[:, i]‖ (the size of what it adds to the expert's output), and the
/// neurons among the <see cref="NeededShare"/> largest are "needed" for that token; per expert the needed sets are kept
/// as bit rows [tokens, neurons]. Two neurons co-activate as often as both are needed.</summary>
public sealed class CoactivationCalibration : IForwardObserver
{
    private readonly Dictionary<int, float[][]> _downNorms = [];     // [MoE layer][expert] → ‖W_down[:, i]‖ [expert_hidden]
    private readonly Dictionary<int, List<ulong>[]> _needed = [];    // [MoE layer][expert] → needed bits, Words per token
    private readonly Dictionary<(int Row, int Expert), float[]> _contributions = []; // the running layer's, per step row and expert
    private int _hidden;     // neurons per expert
    private int _firstLayer; // the first MoE layer, whose FFN inputs count the tokens
    private int _layer = -1; // whose contributions _contributions holds

    /// <param name="neededShare">See <see cref="NeededShare"/>.</param>
    public CoactivationCalibration(double neededShare)
    {
        NeededShare = neededShare is > 0 and < 1
            ? neededShare
            : throw new ArgumentOutOfRangeException(nameof(neededShare), neededShare, "the needed share is in (0, 1)");
    }

    /// <summary>The share of an expert's neurons (by contribution, rounded up) needed for a token.</summary>
    public double NeededShare { get; }

    /// <summary>Tokens seen (FFN inputs of the first MoE layer).</summary>
    public long Tokens { get; private set; }

    private int Words => (_hidden + 63) / 64;

    /// <summary>Reads the norms of <paramref name="w"/>'s experts' down columns, page by page; before the pass this
    /// observes runs (the weights are the pass's own).</summary>
    public async Task ReadDownNormsAsync(ModelWeights w, CancellationToken ct = default)
    {
        if (w.ExpertGrids.Count == 0) throw new Vib3Exception(SqlState.FeatureNotSupported, $"model '{w.Manifest.Name}' has no routed experts to lay out");
        foreach (var (layer, norms) in await ExpertDownNorms.ReadAsync(w, ct).ConfigureAwait(false))
        {
            _downNorms[layer] = norms;
            _needed[layer] = norms.Select(_ => new List<ulong>()).ToArray();
        }
        _hidden = w.ExpertGrids.Values.First().ExpertHidden;
        _firstLayer = w.ExpertGrids.Keys.Min();
    }

    public bool ObservesExperts => true;

    public void FfnInput(int layer, ReadOnlySpan<float> input)
    {
        Flush();
        if (layer == _firstLayer) Tokens++;
    }

    public void ExpertHidden(int layer, int expert, int firstNeuron, int row, ReadOnlySpan<float> hidden)
    {
        if (_hidden == 0) throw new InvalidOperationException("ReadDownNormsAsync first: the calibration has no down norms");
        if (layer != _layer) Flush();
        _layer = layer;
        if (!_contributions.TryGetValue((row, expert), out var c)) _contributions[(row, expert)] = c = new float[_hidden];
        var norms = _downNorms[layer][expert];
        for (var i = 0; i < hidden.Length; i++) c[firstNeuron + i] = Math.Abs(hidden[i]) * norms[firstNeuron + i];
    }

    /// <summary>The running layer's contributions → each (token, expert)'s needed bits.</summary>
    private void Flush()
    {
        if (_contributions.Count == 0) return;
        var needed = (int)Math.Ceiling(NeededShare * _hidden - 1e-9);
        var order = new int[_hidden];
        foreach (var ((_, expert), c) in _contributions.OrderBy(kv => kv.Key))
        {
            for (var i = 0; i < order.Length; i++) order[i] = i;
            Array.Sort(order, (a, b) => c[b].CompareTo(c[a]) is var s && s != 0 ? s : a.CompareTo(b));
            var bits = new ulong[Words];
            foreach (var i in order.AsSpan(0, needed)) bits[i >> 6] |= 1UL << (i & 63);
            _needed[_layer][expert].AddRange(bits);
        }
        _contributions.Clear();
    }

    /// <summary>The layout for pages of <paramref name="pageRows"/> neurons. Per expert: the neurons needed for at least
    /// <paramref name="hotShare"/> of its tokens, most often first, fill whole hot pages at its start; then page by page,
    /// the most often needed neuron left seeds a page, which takes the neuron left with the highest mean co-activation
    /// (cosine of the two neurons' needed bits over the tokens) with the page's neurons so far, until full. An expert
    /// the text never reached keeps its trained order.</summary>
    public NeuronOrder Order(int pageRows, double hotShare, string calibrationFile)
    {
        Flush();
        var neurons = new Dictionary<int, int[][]>();
        var hot = new Dictionary<int, int[]>();
        foreach (var (layer, experts) in _needed)
        {
            neurons[layer] = new int[experts.Length][];
            hot[layer] = new int[experts.Length];
            for (var e = 0; e < experts.Length; e++)
                (neurons[layer][e], hot[layer][e]) = Cluster(Columns(experts[e]), pageRows, hotShare);
        }
        var info = new NeuronLayoutInfo
        {
            Kind = "coact", CalibrationFile = calibrationFile, CalibrationTokens = Tokens, NeededShare = NeededShare, HotShare = hotShare,
        };
        return new NeuronOrder(pageRows, neurons, hot, info);
    }

    /// <summary>Token rows of needed bits → per neuron its bits over the tokens [neuron][token words], and the tokens.</summary>
    private (ulong[][] Columns, int Tokens) Columns(List<ulong> rows)
    {
        var tokens = rows.Count / Words;
        var columns = Enumerable.Range(0, _hidden).Select(_ => new ulong[(tokens + 63) / 64]).ToArray();
        for (var t = 0; t < tokens; t++)
            for (var i = 0; i < _hidden; i++)
                if ((rows[t * Words + (i >> 6)] & (1UL << (i & 63))) != 0) columns[i][t >> 6] |= 1UL << (t & 63);
        return (columns, tokens);
    }

    /// <summary>One expert's order and hot bundles from its neurons' needed bits (see <see cref="Order"/>).</summary>
    internal static (int[] Order, int HotBundles) Cluster((ulong[][] Columns, int Tokens) needed, int pageRows, double hotShare)
    {
        var (columns, tokens) = needed;
        var n = columns.Length;
        if (tokens == 0) return (Enumerable.Range(0, n).ToArray(), 0);
        var counts = new int[n, n]; // tokens both needed
        for (var i = 0; i < n; i++)
            for (var j = i; j < n; j++)
            {
                var c = 0;
                for (var w = 0; w < columns[i].Length; w++) c += BitOperations.PopCount(columns[i][w] & columns[j][w]);
                counts[i, j] = counts[j, i] = c;
            }
        var byFrequency = Enumerable.Range(0, n).OrderByDescending(i => counts[i, i]).ThenBy(i => i).ToArray();
        var hotPages = byFrequency.Count(i => counts[i, i] >= hotShare * tokens) / pageRows;
        var order = new List<int>(byFrequency.Take(hotPages * pageRows));
        var left = new HashSet<int>(byFrequency.Skip(order.Count));
        var affinity = new double[n]; // Σ cosine(member, j) over the page's members so far
        while (left.Count > 0)
        {
            var seed = byFrequency.First(left.Contains);
            Take(seed);
            for (var size = 1; size < pageRows && left.Count > 0; size++)
                Take(left.MaxBy(j => (affinity[j], -j)));
        }
        return (order.ToArray(), hotPages);

        void Take(int i)
        {
            if (order.Count % pageRows == 0) Array.Clear(affinity); // a new page
            order.Add(i);
            left.Remove(i);
            for (var j = 0; j < n; j++)
                if (counts[i, i] > 0 && counts[j, j] > 0) affinity[j] += counts[i, j] / Math.Sqrt((double)counts[i, i] * counts[j, j]);
        }
    }
}
