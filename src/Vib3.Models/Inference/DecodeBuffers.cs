using Vib3.Kernels;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Inference;

/// <summary>Activations of one decode step, allocated once per session.</summary>
internal sealed class DecodeBuffers
{
    public DecodeBuffers(HyperParameters h, int maxBundleRows)
    {
        var qDim = h.Heads * h.HeadDim;
        var kvDim = h.KvHeads * h.HeadDim;
        X = new float[h.Dim];
        Xb = new float[h.Dim];
        XbInput = new MatVecInput(h.Dim);
        Xb2 = new float[h.Dim];
        Q = new float[qDim];
        K = new float[kvDim];
        V = new float[kvDim];
        Att = new float[qDim];
        RouterLogits = new float[h.Experts];
        TopExperts = new int[h.TopK];
        TopWeights = new float[h.TopK];
        Gate = new float[Math.Max(maxBundleRows, Math.Max(h.SharedExpertHidden, h.DenseHidden))];
        Up = new float[Gate.Length];
        Hidden = new float[Gate.Length];
        Down = new float[h.Dim];
        Moe = new float[h.Dim];
        Logits = new float[h.Vocab];
        _maxBundleRows = maxBundleRows;
    }

    private readonly int _maxBundleRows;
    private readonly List<BundleSlot> _bundleSlots = [];
    private float[] _attScratch = new float[64];

    /// <summary>Scores (floats) above which attention's heads share one row of scratch and run one after another.</summary>
    public const int MaxParallelScores = 1 << 24;

    /// <summary>[heads · positions] scores over the positions attended, a row per head so that the heads can run on
    /// the kernel threads at once (<see cref="Attention.Decode"/>); [positions] (one row, heads in turn) past
    /// <see cref="MaxParallelScores"/>. Grown (doubling) with use rather than sized by the model's context length up
    /// front: a context_length of 2^31 − 1 then costs nothing until a sequence is that long, which the KV cache refuses
    /// first (<see cref="KvCache"/>).</summary>
    public float[] AttScratch(int heads, int positions)
    {
        if ((long)heads * positions <= MaxParallelScores) positions *= heads;
        if (_attScratch.Length < positions) _attScratch = new float[Math.Max(positions, (int)Math.Min(Array.MaxLength, 2L * _attScratch.Length))];
        return _attScratch;
    }

    /// <summary>One slot per routed bundle page of a layer: its output, kept until the layer sums them in order, and
    /// its own scratch, so bundles can be computed on several threads at once.</summary>
    public IReadOnlyList<BundleSlot> BundleSlots(int count)
    {
        while (_bundleSlots.Count < count) _bundleSlots.Add(new BundleSlot(_maxBundleRows, Down.Length));
        return _bundleSlots;
    }

    public float[] X { get; }            // [dim] residual stream
    public float[] Xb { get; }           // [dim] normalised input of a sub-block
    public MatVecInput XbInput { get; }  // Xb again, with the quantised forms its matvecs share

    /// <summary>Any other matvec input (attention's output, an FFN's hidden vector, latent attention's vectors), grown
    /// to the longest given; one at a time.</summary>
    public MatVecInput Input(int length)
    {
        if (_input.Capacity < length) _input = new MatVecInput(length);
        return _input;
    }

    private MatVecInput _input = new(0);
    public float[] Xb2 { get; }          // [dim] attention output projected back
    public float[] Q { get; }            // [heads·headDim]
    public float[] K { get; }            // [kvHeads·headDim]
    public float[] V { get; }            // [kvHeads·headDim]
    public float[] Att { get; }          // [heads·headDim] attention result, heads concatenated
    public float[] RouterLogits { get; } // [experts] router logits, then probabilities
    public int[] TopExperts { get; }     // [topK] chosen experts
    public float[] TopWeights { get; }   // [topK] their routing weights
    public float[] Gate { get; }         // [max(R, sharedHidden, denseHidden)] shared expert's (dense FFN's) gate · x
    public float[] Up { get; }           // [max(R, sharedHidden, denseHidden)] its up · x
    public float[] Hidden { get; }       // [max(R, sharedHidden, denseHidden)] silu(gate) ⊙ up
    public float[] Down { get; }         // [dim] one bundle's (or the shared expert's) down projection
    public float[] Moe { get; }          // [dim] weighted sum of the experts' outputs
    public float[] Logits { get; }       // [vocab]
}

/// <summary>One routed bundle page's buffers in a decode step.</summary>
internal sealed class BundleSlot(int maxBundleRows, int dim)
{
    public float[] GateUp { get; } = new float[2 * maxBundleRows]; // [2R] the bundle's gate rows · x, then its up rows · x
    public float[] Hidden { get; } = new float[maxBundleRows];     // [R] silu(gate) ⊙ up
    public float[] Output { get; } = new float[dim];               // [dim] its down projection
}
