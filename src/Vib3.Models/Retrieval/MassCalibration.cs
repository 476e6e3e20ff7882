using Vib3.Core;
using Vib3.Kernels;
using Vib3.Models.Inference;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Retrieval;

/// <summary>Watches a forward pass run calibration text with exact routing and measures, per MoE layer, what
/// router-first retrieval would keep (<see cref="RetrievalCalibration"/>). When the router has chosen a row's experts,
/// the row's pages inside them are ordered as <see cref="InsidePages"/> orders them — scores predicted from the neuron
/// keys on the row's FFN input — and for every predicted mass of <see cref="RetrievalCalibration.Grid"/> the pages it
/// keeps are known; then, as the experts really run, each page's true score (router weight × ‖its activations ⊙ its
/// neurons' down-column norms‖) and weighted output are added to what the masses that keep it hold. A row yields, per
/// mass, the share of its true contribution kept, the share of its pages, and the relative error of its kept output;
/// the means over the rows are the layer's curves. Rows with a page run on a device (not observed) are left out. Then
/// each layer is probed alone (<see cref="ProbeMass"/>) for the KL its truncation costs, which
/// <see cref="RetrievalCalibration.Allocate"/> weighs the layers' pages against.</summary>
public sealed class MassCalibration : IForwardObserver
{
    /// <summary>Bytes of per-row output sums a step may hold; the calibration's windows are shortened to stay under it.</summary>
    public const long MaxStepBytes = 256L << 20;

    private readonly IReadOnlyDictionary<int, NeuronKeyLayer> _keys;
    private readonly IReadOnlyDictionary<int, ExpertGridEntry> _grids;
    private readonly Dictionary<int, float[][]> _downNorms;     // [MoE layer][expert] → ‖W_down[:, i]‖ [expert_hidden]
    private readonly double[] _masses = RetrievalCalibration.Grid;
    private readonly Dictionary<int, Sums> _sums = [];          // per MoE layer, over the rows measured
    private int _layer = -1;                                    // the layer whose rows are gathered below
    private readonly List<float[]> _inputs = [];                // [step row] its FFN input [dim]
    private readonly List<float> _residuals = [];               // [step row] the norm of the residual its FFN output is added to
    private readonly Dictionary<int, RowState> _rows = [];      // step row → what is gathered of it
    private readonly List<InsidePages.Candidate> _candidates = [];
    private float[] _predicted = [], _scratch = [];                     // [expert hidden]: Rank's buffers

    private sealed class Sums(int masses)
    {
        public readonly double[] True = new double[masses], Pages = new double[masses], Error = new double[masses], Residual = new double[masses];
        public long Rows;
    }

    /// <summary>One row of the gathered layer. A page's tag is its expert's place in <see cref="Experts"/> × bundles per
    /// expert + its bundle.</summary>
    private sealed class RowState(int[] experts, float[] weights, int pages, int masses, int dim)
    {
        public readonly int[] Experts = experts;
        public readonly float[] Weights = weights;
        public readonly int[] Order = new int[pages];             // tags, best first
        public readonly int[] Kept = new int[masses];             // pages kept at each mass
        public readonly int[] Bucket = new int[pages];            // by tag: the first mass that keeps the page (masses: none)
        public readonly double[] True = new double[pages];        // by tag: the page's true score
        public readonly bool[] Seen = new bool[pages];            // by tag: its activations were observed
        public readonly float[] Output = new float[(masses + 1) * dim]; // [bucket, dim] weighted outputs of the pages first kept there
    }

    private MassCalibration(IReadOnlyDictionary<int, NeuronKeyLayer> keys, IReadOnlyDictionary<int, ExpertGridEntry> grids,
        Dictionary<int, float[][]> downNorms)
    {
        (_keys, _grids, _downNorms) = (keys, grids, downNorms);
    }

    /// <summary>The mass each layer is probed at, alone, for its effect on the model's predictions.</summary>
    public const double ProbeMass = 0.9;

    /// <summary>Tokens of the text each probe runs (the first ones): a probe runs the text twice (truncated, exact) for
    /// each layer, where the curves need one run, so it takes a shorter text (on vib3-moe 2,307 and 16,384 tokens
    /// gave the same masses to two decimals).</summary>
    public const int ProbeTokens = 1024;

    /// <summary>Runs <paramref name="tokens"/> through <paramref name="pass"/> with exact routing in windows of up to
    /// <paramref name="context"/> (fewer where a step's sums would pass <see cref="MaxStepBytes"/>) and measures every
    /// MoE layer's curves for <paramref name="index"/>'s neuron keys; then, layer by layer, runs the text's first
    /// <see cref="ProbeTokens"/> again with only that layer reading its pages at <see cref="ProbeMass"/> (the others
    /// every page) and measures the KL from exact routing that costs.</summary>
    public static async Task<RetrievalCalibration> RunAsync(ForwardPass pass, PageIndex index, IReadOnlyList<int> tokens,
        int context, string file, CancellationToken ct = default)
    {
        var w = pass.Weights;
        var keys = index.Neurons ?? throw new ArgumentException("the index has no neuron keys to calibrate", nameof(index));
        var rowBytes = (RetrievalCalibration.Grid.Length + 1L) * w.Manifest.Hyper.Dim * sizeof(float);
        context = (int)Math.Max(1, Math.Min(context, MaxStepBytes / rowBytes));
        if (tokens.Count < context + 1)
            throw new Vib3Exception(SqlState.InvalidParameterValue,
                $"{file}: the calibration text is {tokens.Count} tokens; it needs at least {context + 1} (one window of {context})");
        var observer = new MassCalibration(keys, w.ExpertGrids, await ExpertDownNorms.ReadAsync(w, ct).ConfigureAwait(false));
        var exact = new ScoredRouting(ForwardProgram.Build(w.Manifest));
        using (pass.Observing(observer))
            await PerplexityEvaluation.RunAsync(pass, tokens, context, context, exact, null, KvCacheType.F32, ct).ConfigureAwait(false);
        var curves = observer.Curves();
        var layers = new List<LayerCalibration>();
        var probed = tokens.Take(Math.Max(ProbeTokens, context) + 1).ToArray();
        foreach (var (layer, curve) in curves)
        {
            var alone = new RetrievalRouting(0, LayerMass: curves.Keys.ToDictionary(l => l, l => l == layer ? ProbeMass : 1));
            var probe = await PerplexityEvaluation.RunAsync(pass, probed, context, context, new ScoredRouting(ForwardProgram.Build(w.Manifest, alone), index),
                exact, KvCacheType.F32, ct).ConfigureAwait(false);
            layers.Add(curve with { ProbeKl = Math.Max(0, probe.Kl!.Value), ProbeError = curve.At(ProbeMass, RetrievalCalibration.Grid).Error });
        }
        return new RetrievalCalibration(file, tokens.Count, RetrievalCalibration.Grid, layers, ProbeMass);
    }

    /// <summary>The curves of every layer with rows measured (their probe still to run), in layer order.</summary>
    private SortedDictionary<int, LayerCalibration> Curves()
    {
        Flush();
        var curves = new SortedDictionary<int, LayerCalibration>();
        foreach (var (layer, sums) in _sums)
            curves[layer] = new LayerCalibration(layer,
                sums.True.Select(v => Math.Min(1, v / sums.Rows)).ToArray(),
                sums.Pages.Select(v => Math.Min(1, v / sums.Rows)).ToArray(),
                sums.Error.Select(v => v / sums.Rows).ToArray(),
                sums.Residual.Select(v => v / sums.Rows).ToArray(), 0, 0);
        if (curves.Count == 0)
            throw new Vib3Exception(SqlState.FeatureNotSupported, "the calibration measured no rows: the experts ran where they cannot be observed (a device)");
        return curves;
    }

    public bool ObservesExperts => true;

    public void FfnResidual(int layer, ReadOnlySpan<float> residual)
    {
        // A layer's rows come before its routing: rows after a routing, or of another layer, start the next gathering.
        if (layer != _layer || _rows.Count > 0) Flush();
        _layer = layer;
        _residuals.Add(System.Numerics.Tensors.TensorPrimitives.Norm(residual));
    }

    public void FfnInput(int layer, ReadOnlySpan<float> input) => _inputs.Add(input.ToArray());

    /// <summary>The row's pages ordered by prediction, and for each the first mass that keeps it.</summary>
    public void Routed(int layer, int row, ReadOnlySpan<int> experts, ReadOnlySpan<float> weights)
    {
        if (!_keys.TryGetValue(layer, out var keys)) return;
        var grid = _grids[layer];
        var bundles = grid.BundlesPerExpert;
        var state = _rows[row] = new RowState(experts.ToArray(), weights.ToArray(), experts.Length * bundles, _masses.Length, grid.Dim);
        if (_predicted.Length < grid.ExpertHidden) (_predicted, _scratch) = (new float[grid.ExpertHidden], new float[grid.ExpertHidden]);
        var total = InsidePages.Rank(keys, grid, _inputs[row], experts, weights, _candidates, _predicted.AsSpan(0, grid.ExpertHidden), _scratch);
        for (var i = 0; i < _candidates.Count; i++) // page id within the layer → tag: the expert's place among the row's, its bundle
            state.Order[i] = Array.IndexOf(state.Experts, _candidates[i].Page / bundles) * bundles + _candidates[i].Page % bundles;
        Array.Fill(state.Bucket, _masses.Length);
        for (var m = _masses.Length - 1; m >= 0; m--)
        {
            state.Kept[m] = InsidePages.Kept(_candidates, total, _masses[m], 0, 0);
            for (var i = 0; i < state.Kept[m]; i++) state.Bucket[state.Order[i]] = m;
        }
    }

    public void ExpertHidden(int layer, int expert, int firstNeuron, int row, ReadOnlySpan<float> hidden)
    {
        if (Tag(layer, expert, firstNeuron, row) is not var (state, tag, j)) return;
        var norms = _downNorms[layer][expert];
        double squares = 0;
        for (var i = 0; i < hidden.Length; i++)
        {
            var c = (double)Math.Abs(hidden[i]) * norms[firstNeuron + i];
            squares += c * c;
        }
        state.True[tag] = Math.Abs(state.Weights[j]) * Math.Sqrt(squares);
        state.Seen[tag] = true;
    }

    public void ExpertOutput(int layer, int expert, int firstNeuron, int row, ReadOnlySpan<float> output)
    {
        if (Tag(layer, expert, firstNeuron, row) is not var (state, tag, j)) return;
        VectorOps.AddScaled(output, state.Weights[j], state.Output.AsSpan(state.Bucket[tag] * output.Length, output.Length));
    }

    /// <summary>The row's state, the page's tag and its expert's place among the row's experts; null for a row or layer
    /// not measured.</summary>
    private (RowState State, int Tag, int Expert)? Tag(int layer, int expert, int firstNeuron, int row)
    {
        if (layer != _layer || !_rows.TryGetValue(row, out var state)) return null;
        var grid = _grids[layer];
        var j = Array.IndexOf(state.Experts, expert);
        return j < 0 ? null : (state, j * grid.BundlesPerExpert + firstNeuron / grid.BundleRows, j);
    }

    /// <summary>The gathered layer's rows → its sums; then forget them.</summary>
    private void Flush()
    {
        if (_rows.Count > 0)
        {
            if (!_sums.TryGetValue(_layer, out var sums)) _sums[_layer] = sums = new Sums(_masses.Length);
            var dim = _grids[_layer].Dim;
            var (all, kept) = (new float[dim], new float[dim]);
            foreach (var (row, state) in _rows)
            {
                if (!state.Seen.All(x => x)) continue;
                var trueTotal = state.True.Sum();
                Array.Clear(all);
                for (var b = 0; b <= _masses.Length; b++) VectorOps.Add(state.Output.AsSpan(b * dim, dim), all);
                var norm = System.Numerics.Tensors.TensorPrimitives.Norm(all);
                if (trueTotal <= 0 || norm <= 0) continue;
                Array.Clear(kept);
                for (var m = 0; m < _masses.Length; m++)
                {
                    double held = 0;
                    for (var i = 0; i < state.Kept[m]; i++) held += state.True[state.Order[i]];
                    VectorOps.Add(state.Output.AsSpan(m * dim, dim), kept);
                    sums.True[m] += held / trueTotal;
                    sums.Pages[m] += (double)state.Kept[m] / state.Order.Length;
                    var dropped = System.Numerics.Tensors.TensorPrimitives.Distance(all, kept);
                    sums.Error[m] += dropped / norm;
                    sums.Residual[m] += dropped / Math.Max(_residuals[row], float.Epsilon);
                }
                sums.Rows++;
            }
        }
        _inputs.Clear();
        _residuals.Clear();
        _rows.Clear();
    }
}
