using System.Buffers;
using Vib3.Kernels;
using Vib3.Models.Device;
using Vib3.Models.Weights;

namespace Vib3.Models.Inference;

/// <summary>Multi-head latent attention (DeepSeek-V3, Kimi K2) for n rows, in the absorbed form: the cache holds per
/// position only the normalised latent c [L] and the shared roped key k_rope [R]; a head's query is moved into latent
/// space (q_lat = k_b[h] · q_nope, [L]) and scored against c directly, its output is the attention-weighted latent
/// mapped by v_b[h]. Per token and layer the cache grows by L + R values instead of H·(N+R+Dv) for full keys and values.
/// <code>
///   q      = q_b · RMSNorm(q_a · x)   (or attn_q · x)        [H, N+R] → q_nope [H, N], q_rope [H, R] (roped)
///   kv     = kv_a_mqa · x                                     [L+R]   → c = RMSNorm(kv[..L]), k_rope = rope(kv[L..])
///   score  = scale · (q_lat[h] · c_t + q_rope[h] · k_rope_t)  over the row's positions 0..pos
///   out[h] = v_b[h] · Σ_t softmax(score)_t · c_t              [Dv];   y = attn_output · out
/// </code></summary>
public sealed partial class ForwardPass
{
    private LatentBuffers? _lat;
    private YarnParams? _rope;
    private float _latentScale;

    /// <summary>Attention of rows [n] whose normalised inputs are <paramref name="x"/> [n, dim]; writes y [n, dim].</summary>
    private async ValueTask LatentAttentionAsync(LayerWeights layer, int l, IReadOnlyList<StepRow> rows, float[] x, float[] y, CancellationToken ct)
    {
        var n = rows.Count;
        var a = _lat is { } held && held.N >= n ? held : _lat = new LatentBuffers(_h, Math.Max(n, _lat?.N ?? 1), _w.Manifest.Tensors.Max(t => t.RowsPerPage));
        var rope = _rope ??= RopeScaling();
        var (heads, nope, r, rank, dv) = (_h.Heads, _h.QkNopeHeadDim, _h.QkRopeHeadDim, _h.KvLoraRank, _h.VHeadDim);
        var (qk, kvw) = (nope + r, rank + r);
        var eps = (float)_h.NormEps;

        if (layer.QA is { } qa)
        {
            await ProjectAsync(qa, x, n, a.QA, ct).ConfigureAwait(false);
            for (var i = 0; i < n; i++) RmsNorm.Compute(a.QA.AsSpan(i * qa.Rows, qa.Rows), layer.QANorm, eps, a.QA.AsSpan(i * qa.Rows, qa.Rows));
            await ProjectAsync(layer.QB!, a.QA, n, a.Q, ct).ConfigureAwait(false);
        }
        else await ProjectAsync(layer.Q!, x, n, a.Q, ct).ConfigureAwait(false);
        await ProjectAsync(layer.KvA!, x, n, a.Kv, ct).ConfigureAwait(false);

        var theta = (float)_h.RopeTheta;
        for (var i = 0; i < n; i++)
        {
            var (cache, pos) = (rows[i].Cache, rows[i].Position);
            var kv = a.Kv.AsSpan(i * kvw, kvw);
            RmsNorm.Compute(kv[..rank], layer.KvANorm, eps, kv[..rank]);
            Rope.NormalYarn(kv[rank..], 1, r, pos, theta, rope);
            var qRope = a.QRope.AsSpan(i * heads * r, heads * r);
            for (var h = 0; h < heads; h++) a.Q.AsSpan(i * heads * qk + h * qk + nope, r).CopyTo(qRope.Slice(h * r, r));
            Rope.NormalYarn(qRope, heads, r, pos, theta, rope);
            cache.Write(l, pos, kv, []);
        }

        await HeadProductAsync(layer.KB!, rank, a.Q, heads * qk, qk, n, a.QLat, heads * rank, a, ct).ConfigureAwait(false);
        AttendLatents(l, rows, a);
        await HeadProductAsync(layer.VB!, dv, a.OLat, heads * rank, rank, n, a.Att, heads * dv, a, ct).ConfigureAwait(false);
        await ProjectAsync(layer.O, a.Att, n, y, ct).ConfigureAwait(false);
    }

    /// <summary>y[i, h·rowsPerHead + j] = W[h·rowsPerHead + j] · x[i, h·xHeadStride ..][..Cols] for the n rows: k_b on
    /// q_nope, v_b on the attended latents (one matrix-vector product for one row, a product per head for several).</summary>
    private ValueTask HeadProductAsync(DenseWeight w, int rowsPerHead, float[] x, int xStride, int xHeadStride, int n, float[] y, int yStride,
        LatentBuffers a, CancellationToken ct) =>
        _w.StreamAsync(w, (page, bytes) =>
        {
            if (n == 1) w.HeadMatVecPage(page, bytes, rowsPerHead, x.AsSpan(0, xStride), xHeadStride, y.AsSpan(0, yStride));
            else w.HeadMatMulPage(page, bytes, rowsPerHead, x, xStride, xHeadStride, n, y, yStride, a.HeadScratch);
        }, ct, _reads);

    /// <summary>Every (row, head) attends over its row's cache up to its own position: per sequence (a prompt chunk's rows
    /// share one cache, as do a sequence's heads) its queries [q_lat | q_rope] go through <see cref="MlaAttention.AttendLatents"/>
    /// together, or with a device, through its twin over the cache's mirror in VRAM (<see cref="DeviceMatrices.AttendLatents"/>)
    /// while the budget has room for it. An f16 cache is decoded once per sequence first on the CPU.</summary>
    private void AttendLatents(int l, IReadOnlyList<StepRow> rows, LatentBuffers a)
    {
        var onDevice = _device is not null;
        var (heads, r, rank) = (_h.Heads, _h.QkRopeHeadDim, _h.KvLoraRank);
        var kvw = rank + r;
        foreach (var sequence in Enumerable.Range(0, rows.Count).GroupBy(i => rows[i].Cache))
        {
            var cache = sequence.Key;
            var members = sequence.ToArray();
            var seen = members.Max(i => rows[i].Position) + 1;
            var pairs = members.Length * heads;
            float[]? decoded = null;
            var queries = ArrayPool<float>.Shared.Rent(pairs * kvw); // [pairs, L+R] q_lat | q_rope per (row, head)
            var visible = ArrayPool<int>.Shared.Rent(pairs);          // [pairs] positions each sees (causal)
            var output = ArrayPool<float>.Shared.Rent(pairs * rank);  // [pairs, L] attention-weighted latents
            try
            {
                for (var j = 0; j < pairs; j++)
                {
                    var (i, h) = (members[j / heads], j % heads);
                    a.QLat.AsSpan((i * heads + h) * rank, rank).CopyTo(queries.AsSpan(j * kvw, rank));
                    a.QRope.AsSpan((i * heads + h) * r, r).CopyTo(queries.AsSpan(j * kvw + rank, r));
                    visible[j] = rows[i].Position + 1;
                }
                onDevice = onDevice && RunOnDevice(d => d.AttendLatents(l, cache, seen, queries, pairs, visible, rank, r, _latentScale, output), default);
                if (!onDevice)
                {
                    if (cache.Type != KvCacheType.F32) decoded = ArrayPool<float>.Shared.Rent(seen * kvw);
                    MlaAttention.AttendLatents(cache.Latents(l, seen, decoded).Span, seen, rank, r, queries.AsSpan(0, pairs * kvw), pairs,
                        visible.AsSpan(0, pairs), _latentScale, output.AsSpan(0, pairs * rank));
                }
                for (var j = 0; j < pairs; j++)
                {
                    var (i, h) = (members[j / heads], j % heads);
                    output.AsSpan(j * rank, rank).CopyTo(a.OLat.AsSpan((i * heads + h) * rank, rank));
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(queries);
                ArrayPool<int>.Shared.Return(visible);
                ArrayPool<float>.Shared.Return(output);
                if (decoded is not null) ArrayPool<float>.Shared.Return(decoded);
            }
        }
        if (_device is not null) _products += onDevice ? new ProductCounts(0, 0, AttendedOnDevice: 1) : new ProductCounts(0, 0, AttendedOnCpu: 1);
    }

    /// <summary>YaRN rope parameters as llama.cpp derives them for deepseek2 (none: plain rope), and the attention scale
    /// that goes with them, mscale² / √(N+R).</summary>
    private YarnParams RopeScaling()
    {
        var yarn = _h.YarnFactor > 0
            ? DeepSeekYarn.RopeParams((float)_h.YarnFactor, _h.YarnOriginalContext, (float)_h.YarnMscaleAllDim,
                (float)_h.YarnBetaFast, (float)_h.YarnBetaSlow)
            : YarnParams.None;
        _latentScale = DeepSeekYarn.AttentionScale(_h.QkNopeHeadDim + _h.QkRopeHeadDim, yarn, _h.YarnFactor > 0 ? (float)_h.YarnMscaleAllDim : 0f);
        return yarn;
    }
}
