using Vib3.Core;
using Vib3.Models.Retrieval;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Inference;

/// <summary>Router-first retrieval (<see cref="RetrievalRouting.RouterFirst"/>): the router picks a row's experts and
/// weights exactly; inside them each neuron's contribution is predicted from its key (<see cref="NeuronKeyLayer.Predict"/>),
/// each bundle page scores the router weight × the norm of its neurons' predictions, and the row reads its pages best
/// first (hot pages before all) until they hold the routing's mass of the predicted total, or its budget share of the
/// pages, or k of them.</summary>
public sealed partial class ForwardPass
{
    private float[] _predicted = [];  // [expert hidden]: one expert's predicted neuron contributions
    private float[] _predictedUp = []; // [expert hidden]: Predict's scratch (its up values)
    private long[] _keyBytes = [];    // [step rows]: the neuron key bytes the running Experts operator read for each row
    private readonly List<(int Page, float Weight, double Score, bool Hot)> _candidates = []; // one row's pages, SelectInside's scratch

    /// <summary>Adds row <paramref name="row"/>'s pages inside its experts <paramref name="top"/> (weights
    /// <paramref name="weights"/>) to <paramref name="byPage"/> (page id within the layer → its rows and weights), best
    /// first (hot first) to the mass or budget share, at most k; and the keys it scored to the row's key bytes.</summary>
    private void SelectInside(StepRow r, ExpertGridEntry grid, int row, ReadOnlySpan<float> xb, ReadOnlySpan<int> top, ReadOnlySpan<float> weights,
        RetrievalRouting routing, SortedDictionary<int, List<(int Row, float Weight)>> byPage)
    {
        var keys = RequireIndex(r).Neurons?.GetValueOrDefault(grid.Layer) ?? throw new Vib3Exception(SqlState.FeatureNotSupported,
            $"router-first USING RETRIEVAL needs neuron keys, and the index of model '{_w.Manifest.Name}' has none: run CREATE INDEX ON MODEL {_w.Manifest.Name} again");
        _keyBytes[row] += top.Length * keys.ExpertBytes;
        if (_predicted.Length < grid.ExpertHidden) (_predicted, _predictedUp) = (new float[grid.ExpertHidden], new float[grid.ExpertHidden]);
        var predicted = _predicted.AsSpan(0, grid.ExpertHidden);
        var bundles = grid.BundlesPerExpert;
        _candidates.Clear();
        double total = 0;
        for (var j = 0; j < top.Length; j++)
        {
            keys.Predict(top[j], xb, predicted, _predictedUp);
            for (var b = 0; b < bundles; b++)
            {
                var squares = 0.0;
                foreach (var v in predicted.Slice(b * grid.BundleRows, grid.RowsInBundle(b))) squares += (double)v * v;
                var score = Math.Abs(weights[j]) * Math.Sqrt(squares);
                _candidates.Add((top[j] * bundles + b, weights[j], score, grid.IsHot(top[j], b)));
                total += score;
            }
        }
        _candidates.Sort((a, b) => b.Hot.CompareTo(a.Hot) is var h && h != 0 ? h
            : b.Score.CompareTo(a.Score) is var s && s != 0 ? s : a.Page.CompareTo(b.Page));
        var limit = routing.Budget > 0 ? (int)Math.Ceiling(routing.Budget * _candidates.Count - 1e-9) : _candidates.Count;
        if (routing.K > 0) limit = Math.Min(limit, routing.K);
        var (kept, mass) = (0, 0.0);
        foreach (var (page, weight, score, hot) in _candidates)
        {
            if (kept >= limit && !(hot && routing.K == 0)) break; // hot pages always, unless k caps the row
            if (!hot && routing.Mass > 0 && mass >= routing.Mass * total) break;
            if (!byPage.TryGetValue(page, out var list)) byPage[page] = list = [];
            list.Add((row, weight));
            kept++;
            mass += score;
        }
    }
}
