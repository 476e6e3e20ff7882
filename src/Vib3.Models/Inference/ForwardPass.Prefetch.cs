using Vib3.Kernels;

namespace Vib3.Models.Inference;

/// <summary>How well the next layer's experts were predicted: of the experts the router really chose (rows × top-k),
/// how many had been predicted (and prefetched) one layer ahead.</summary>
public sealed class ExpertPrediction
{
    private long _decisions, _predicted;

    public long Decisions => Interlocked.Read(ref _decisions);

    public long Predicted => Interlocked.Read(ref _predicted);

    /// <summary>Predicted / Decisions (0 before any).</summary>
    public double Accuracy => Decisions == 0 ? 0 : (double)Predicted / Decisions;

    internal void Record(int decisions, int predicted)
    {
        Interlocked.Add(ref _decisions, decisions);
        Interlocked.Add(ref _predicted, predicted);
    }
}

/// <summary>Expert prefetch: before layer l's experts run, layer l+1's router is applied to the current residual
/// stream (normalised with layer l+1's FFN norm; what layer l+1's router will see, less layers l's experts and
/// l+1's attention) and the bundle pages of the experts it picks start loading, so their disk reads overlap with
/// layer l's compute. Predictions only start reads: what the model computes never depends on them.</summary>
public sealed partial class ForwardPass
{
    private PredictionBuffers? _q;

    /// <summary>Start reads of the experts predicted for the next layer (on by default).</summary>
    public bool PrefetchExperts { get; set; } = true;

    public ExpertPrediction Prediction { get; } = new();

    /// <summary>The Prediction operator: predicts layer l+1's experts for the n rows of <paramref name="x"/> [n, dim] and prefetches their pages.
    /// Key-only retrieval rows prefetch the pages the next layer's index picks instead; router-first rows nothing (see
    /// the measurement below).</summary>
    private async ValueTask PrefetchNextExpertsAsync(int l, float[] x, IReadOnlyList<StepRow> rows, CancellationToken ct)
    {
        if (!PrefetchExperts || l + 1 >= _layers.Length) return;
        var next = _layers[l + 1];
        if (next.Experts is not { } grid) return; // a dense layer: nothing to predict
        var router = next.Router!;
        var (dim, experts, n) = (_h.Dim, _h.Experts, rows.Count);
        var q = _q ??= new PredictionBuffers(MaxBatchRows, dim, experts, router.Entry.RowsPerPage);
        for (var i = 0; i < n; i++)
            RmsNorm.Compute(x.AsSpan(i * dim, dim), next.FfnNorm, (float)_h.NormEps, q.X.AsSpan(i * dim, dim));
        if (!OnDevice(router, q.X, n, q.Logits))
            await _w.StreamAsync(router, (page, bytes) => router.MatMulPage(page, bytes, q.X.AsSpan(0, n * dim), n, q.Logits, q.PageScratch), ct, _reads)
                .ConfigureAwait(false);
        // Layer l+1's prediction is made before layer l's is scored (layer l's MoE runs after this), so the two live
        // side by side: a slot per layer parity.
        var chosen = q.Chosen[(l + 1) % 2];
        Array.Clear(chosen, 0, n * experts);
        var any = q.AnyRow;
        Array.Clear(any);
        for (var i = 0; i < n; i++)
        {
            if (rows[i] is { Retrieval: { RouterFirst: false } r, Index: { } index })
            {
                PrefetchRetrieved(grid, q.X.AsSpan(i * dim, dim), r, index);
                continue;
            }
            Route(next, q.Logits.AsSpan(i * experts, experts), q.Top.AsSpan(0, _h.TopK), q.TopWeights.AsSpan(0, _h.TopK));
            if (rows[i] is { Retrieval.RouterFirst: true })
            {
                // Router-first rows read ahead nothing. Prefetching the pages their keys pick of the predicted experts
                // was measured on vib3-moe (one neuron a page, a RAM budget of 30 % of the pages): disk bytes per token
                // rose from 4.2 to 5.6 MB and decode fell from 19 to 12 tok/s: the picks, made on a prediction of the
                // next layer's input, miss too often and evict pages that were about to be read.
                foreach (var e in q.Top.AsSpan(0, _h.TopK)) chosen[i * experts + e] = true; // still scored as a prediction
                continue;
            }
            foreach (var e in q.Top.AsSpan(0, _h.TopK))
            {
                chosen[i * experts + e] = true;
                any[e] = true;
            }
        }
        q.ForLayer[(l + 1) % 2] = l + 1;
        ct.ThrowIfCancellationRequested(); // a step no one waits for starts no more reads
        for (var e = 0; e < experts; e++)
            if (any[e])
                for (var b = 0; b < grid.BundlesPerExpert; b++) Prefetch(grid.PageOf(e, b));
    }

    /// <summary>Starts a page's read ahead of need; one that started counts in the operator's figures.</summary>
    private void Prefetch(int page)
    {
        if (_w.Store.Prefetch(page) && _reads is { } reads) reads.Prefetched(_w.Store.PageLength(page));
    }

    /// <summary>Scores the prediction made for this layer against row <paramref name="row"/>'s real choice.</summary>
    private void ScorePrediction(int layer, int row, ReadOnlySpan<int> chosen)
    {
        if (_q is not { } q || q.ForLayer[layer % 2] != layer) return;
        var predicted = q.Chosen[layer % 2];
        var hits = 0;
        foreach (var e in chosen) if (predicted[row * _h.Experts + e]) hits++;
        Prediction.Record(chosen.Length, hits);
    }

    /// <summary>Scratch of the prediction: normalised rows, router logits, and which experts each row is predicted to pick.</summary>
    private sealed class PredictionBuffers(int n, int dim, int experts, int routerRowsPerPage)
    {
        public float[] X { get; } = new float[n * dim];                                        // [n, dim]
        public float[] Logits { get; } = new float[n * experts];                               // [n, experts]
        public float[] PageScratch { get; } = new float[n * Math.Max(experts, routerRowsPerPage)]; // [n, router rows of a page]
        public bool[][] Chosen { get; } = [new bool[n * experts], new bool[n * experts]];      // [layer parity][n, experts]
        public bool[] AnyRow { get; } = new bool[experts];                                     // [experts] chosen by some row
        public int[] Top { get; } = new int[64];
        public float[] TopWeights { get; } = new float[64];
        public int[] ForLayer { get; } = [-1, -1];                                             // the layer each Chosen predicts
    }
}
