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
    private readonly List<InsidePages.Candidate> _candidates = []; // one row's pages, SelectInside's scratch

    /// <summary>Adds row <paramref name="row"/>'s pages inside its experts <paramref name="top"/> (weights
    /// <paramref name="weights"/>) to <paramref name="byPage"/> (page id within the layer → its rows and weights), as
    /// <see cref="InsidePages"/> keeps them; and the keys it scored to the row's key bytes.</summary>
    private void SelectInside(StepRow r, ExpertGridEntry grid, int row, ReadOnlySpan<float> xb, ReadOnlySpan<int> top, ReadOnlySpan<float> weights,
        RetrievalRouting routing, SortedDictionary<int, List<(int Row, float Weight)>> byPage)
    {
        var keys = RequireIndex(r).Neurons?.GetValueOrDefault(grid.Layer) ?? throw new Vib3Exception(SqlState.FeatureNotSupported,
            $"router-first USING RETRIEVAL needs neuron keys, and the index of model '{_w.Manifest.Name}' has none: run CREATE INDEX ON MODEL {ModelNames.ForStatement(_w.Manifest.Name)} again");
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
                var score = Math.Abs(weights[j]) * PageNorm(predicted.Slice(b * grid.BundleRows, grid.RowsInBundle(b)));
                _candidates.Add(new InsidePages.Candidate(top[j] * bundles + b, weights[j], score, grid.IsHot(top[j], b)));
                total += score;
            }
        }
        _candidates.Sort(InsidePages.Compare);
        var kept = InsidePages.Kept(_candidates, total, routing.MassIn(grid.Layer), routing.Budget, routing.K);
        for (var i = 0; i < kept; i++)
        {
            var page = _candidates[i];
            if (!byPage.TryGetValue(page.Page, out var list)) byPage[page.Page] = list = [];
            list.Add((row, page.Weight));
        }
    }

    /// <summary>A page's size from its neurons' values: the norm √Σ v².</summary>
    internal static double PageNorm(ReadOnlySpan<float> values)
    {
        var squares = 0.0;
        foreach (var v in values) squares += (double)v * v;
        return Math.Sqrt(squares);
    }
}
