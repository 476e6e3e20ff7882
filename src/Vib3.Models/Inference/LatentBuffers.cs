using Vib3.Storage.Catalog;

namespace Vib3.Models.Inference;

/// <summary>Activations of multi-head latent attention for up to N rows, made on first use and regrown for a larger
/// batch. H heads, N nope and R rope dims per head, Dv value dims, L kv rank, Lq q rank.</summary>
internal sealed class LatentBuffers
{
    public LatentBuffers(HyperParameters h, int n, int maxPageRows)
    {
        var heads = h.Heads;
        N = n;
        QA = new float[n * Math.Max(1, h.QLoraRank)];
        Q = new float[n * heads * h.HeadDim];
        Kv = new float[n * (h.KvLoraRank + h.QkRopeHeadDim)];
        QRope = new float[n * heads * h.QkRopeHeadDim];
        QLat = new float[n * heads * h.KvLoraRank];
        OLat = new float[n * heads * h.KvLoraRank];
        Att = new float[n * heads * h.VHeadDim];
        HeadScratch = new float[n * (Math.Max(h.QkNopeHeadDim, h.KvLoraRank) + maxPageRows)];
    }

    public int N { get; }
    public float[] QA { get; }          // [n, Lq] q's latent, normalised in place
    public float[] Q { get; }           // [n, H·(N+R)] per head q_nope then q_rope (unroped)
    public float[] Kv { get; }          // [n, L+R] latent c (normalised in place) then the rope key (roped in place): the cache row
    public float[] QRope { get; }       // [n, H·R] roped q_rope
    public float[] QLat { get; }        // [n, H·L] q_nope absorbed into latent space, k_b[h] · q_nope[h]
    public float[] OLat { get; }        // [n, H·L] attention-weighted sum of latents per head
    public float[] Att { get; }         // [n, H·Dv] heads' outputs, v_b[h] · o_lat[h]
    public float[] HeadScratch { get; } // [n, max(N, L)] one head's inputs, then [n, rows of one page] their product
}
