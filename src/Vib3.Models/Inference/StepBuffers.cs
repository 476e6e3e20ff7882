using Vib3.Kernels;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Inference;

/// <summary>Activations of a step of up to N rows (row i = one token of some sequence), allocated once per session and
/// regrown for a larger step.</summary>
internal sealed class StepBuffers
{
    private readonly Stack<ExpertScratch> _scratch = new(); // free ones; at most one per kernel thread is ever made
    private readonly int _maxBundleRows;
    private readonly int _dim;

    public StepBuffers(HyperParameters h, int n, int maxBundleRows, int maxPageRows)
    {
        N = n;
        _maxBundleRows = maxBundleRows;
        _dim = h.Dim;
        var qDim = h.Heads * h.HeadDim;
        var kvDim = h.KvHeads * h.HeadDim;
        var hidden = Math.Max(h.SharedExpertHidden, h.DenseHidden);
        X = new float[n * h.Dim];
        Xb = new float[n * h.Dim];
        O = new float[n * h.Dim];
        Q = new float[n * qDim];
        K = new float[n * kvDim];
        V = new float[n * kvDim];
        Att = new float[n * qDim];
        RouterLogits = new float[n * h.Experts];
        TopExperts = new int[n * h.TopK];
        TopWeights = new float[n * h.TopK];
        Gate = new float[n * hidden];
        Up = new float[n * hidden];
        Hidden = new float[n * hidden];
        Down = new float[n * h.Dim];
        Moe = new float[n * h.Dim];
        PageScratch = new float[n * Math.Max(maxPageRows, h.Dim)];
        XbInput = new MatVecInput(h.Dim);
    }

    public int N { get; }

    /// <summary>Xb's row when the step has one: the input every matrix that reads Xb multiplies, with the quantised forms
    /// they share.</summary>
    public MatVecInput XbInput { get; }

    private MatVecInput _input = new(0);

    /// <summary>One row's input to any other matrix (attention's output, an FFN's hidden vector, latent attention's
    /// vectors, the final norm), grown to the longest given; one at a time.</summary>
    public MatVecInput Input(int length)
    {
        if (_input.Capacity < length) _input = new MatVecInput(length);
        return _input;
    }

    private float[] _attScratch = new float[64];

    /// <summary>Scores (floats) above which attention's heads share one row of scratch and run one after another.</summary>
    public const int MaxParallelScores = 1 << 24;

    /// <summary>[heads · positions] scores over the positions one row attends, a row per head so that the heads can run
    /// on the kernel threads at once; [positions] (one row, heads in turn) past <see cref="MaxParallelScores"/>. Grown
    /// (doubling) with use rather than sized by the model's context length up front: a context_length of 2^31 − 1 then
    /// costs nothing until a sequence is that long, which the KV cache refuses first (<see cref="KvCache"/>).</summary>
    public float[] AttScratch(int heads, int positions)
    {
        if ((long)heads * positions <= MaxParallelScores) positions *= heads;
        if (_attScratch.Length < positions) _attScratch = new float[Math.Max(positions, (int)Math.Min(Array.MaxLength, 2L * _attScratch.Length))];
        return _attScratch;
    }

    private float[] _logits = [];

    /// <summary>[rows, vocab] output logits of a step, grown to the largest step seen; callers copy rows out.</summary>
    public float[] Logits(int length)
    {
        if (_logits.Length < length) _logits = new float[length];
        return _logits;
    }

    private readonly List<float[]> _rowLogits = [];

    /// <summary>The i-th [vocab] logits row a step hands back, made on first use and reused by every later step.</summary>
    public float[] RowLogits(int i, int vocab)
    {
        while (_rowLogits.Count <= i) _rowLogits.Add(new float[vocab]);
        return _rowLogits[i];
    }

    private float[] _bundleOutputs = [];

    /// <summary>[Σ rows per page, dim] outputs of a layer's expert bundle pages, grown to the largest layer seen.</summary>
    public float[] BundleOutputs(int length)
    {
        if (_bundleOutputs.Length < length) _bundleOutputs = new float[length];
        return _bundleOutputs;
    }

    /// <summary>Scratch for one bundle page being computed; a thread holds one while it computes a page, so no more
    /// are made than threads compute pages at once.</summary>
    public ExpertScratch RentScratch()
    {
        lock (_scratch) return _scratch.TryPop(out var s) ? s : new ExpertScratch(N, _maxBundleRows, _dim);
    }

    public void ReturnScratch(ExpertScratch scratch)
    {
        lock (_scratch) _scratch.Push(scratch);
    }

    public float[] X { get; }            // [n, dim] residual streams
    public float[] Xb { get; }           // [n, dim] normalised inputs
    public float[] O { get; }            // [n, dim] attention outputs projected back
    public float[] Q { get; }            // [n, heads·headDim]
    public float[] K { get; }            // [n, kvHeads·headDim]
    public float[] V { get; }            // [n, kvHeads·headDim]
    public float[] Att { get; }          // [n, heads·headDim]
    public float[] RouterLogits { get; } // [n, experts]
    public int[] TopExperts { get; }     // [n, topK]
    public float[] TopWeights { get; }   // [n, topK]
    public float[] Gate { get; }         // [n, max(sharedHidden, denseHidden)] the shared expert's (dense FFN's)
    public float[] Up { get; }           // [n, max(sharedHidden, denseHidden)]
    public float[] Hidden { get; }       // [n, max(sharedHidden, denseHidden)] silu(gate) ⊙ up
    public float[] Down { get; }         // [n, dim]
    public float[] Moe { get; }          // [n, dim] weighted expert outputs
    public float[] PageScratch { get; }  // [n, rows of one page] a dense page's slice of a batched product
}

/// <summary>One expert bundle page's intermediate products for up to n rows routed to it.</summary>
internal sealed class ExpertScratch(int n, int maxBundleRows, int dim)
{
    public float[] Gathered { get; } = new float[n * dim];             // [m, dim] the inputs of the m rows
    public float[] GateUp { get; } = new float[n * 2 * maxBundleRows]; // [m, 2r] per row: gate outputs, then up outputs
    public float[] Hidden { get; } = new float[n * maxBundleRows];     // [m, r] silu(gate) ⊙ up
    public float[] DownColumns { get; } = new float[Math.Min(maxBundleRows, ForwardPass.NarrowBundleRows) * dim]; // [r, dim] a narrow page's down columns, f32
}
