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
        var total = InsidePages.Rank(keys, grid, xb, top, weights, _candidates, _predicted.AsSpan(0, grid.ExpertHidden), _predictedUp);
        var kept = InsidePages.Kept(_candidates, total, routing.MassIn(grid.Layer), routing.Budget, routing.K);
        for (var i = 0; i < kept; i++)
        {
            var page = _candidates[i];
            if (!byPage.TryGetValue(page.Page, out var list)) byPage[page.Page] = list = [];
            list.Add((row, page.Weight));
        }
    }
}
