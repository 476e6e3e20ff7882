using Vib3.Storage.Catalog;

namespace Vib3.Models.Inference;

/// <summary>Activations of a batched step of up to N rows (row i = one token of some sequence), allocated once per session.</summary>
internal sealed class BatchBuffers
{
    private readonly List<ExpertScratch> _slots = [];
    private readonly int _maxBundleRows;
    private readonly int _dim;

    public BatchBuffers(HyperParameters h, int n, int maxBundleRows, int maxPageRows)
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
        Gathered = new float[n * h.Dim];
        Gate = new float[n * hidden];
        Up = new float[n * hidden];
        Hidden = new float[n * hidden];
        Down = new float[n * h.Dim];
        Moe = new float[n * h.Dim];
        PageScratch = new float[n * Math.Max(maxPageRows, h.Dim)];
    }

    public int N { get; }

    private float[] _logits = [];

    /// <summary>[rows, vocab] output logits of a step, grown to the largest step seen; callers copy rows out.</summary>
    public float[] Logits(int length)
    {
        if (_logits.Length < length) _logits = new float[length];
        return _logits;
    }

    /// <summary>Scratch of the i-th bundle page computed at once (one per kernel thread), made on first use.</summary>
    public ExpertScratch Slot(int i)
    {
        lock (_slots)
        {
            while (_slots.Count <= i) _slots.Add(new ExpertScratch(N, _maxBundleRows, _dim));
            return _slots[i];
        }
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
    public float[] Gathered { get; }     // [m, dim] inputs of the m tokens routed to one expert
    public float[] Gate { get; }         // [n, max(sharedHidden, denseHidden)] the shared expert's (dense FFN's)
    public float[] Up { get; }           // [n, max(sharedHidden, denseHidden)]
    public float[] Hidden { get; }       // [n, max(sharedHidden, denseHidden)] silu(gate) ⊙ up
    public float[] Down { get; }         // [n, dim]
    public float[] Moe { get; }          // [n, dim] weighted expert outputs
    public float[] PageScratch { get; }  // [n, rows of one page] a dense page's slice of a batched product
}

/// <summary>One expert bundle page's products for up to n rows routed to it.</summary>
internal sealed class ExpertScratch(int n, int maxBundleRows, int dim)
{
    public float[] Gate { get; } = new float[n * maxBundleRows];   // [m, r]
    public float[] Up { get; } = new float[n * maxBundleRows];     // [m, r]
    public float[] Hidden { get; } = new float[n * maxBundleRows]; // [m, r] silu(gate) ⊙ up
    public float[] Down { get; } = new float[n * dim];             // [m, dim]
}
