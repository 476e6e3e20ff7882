using System.Numerics.Tensors;

namespace Vib3.Kernels;

/// <summary>Per-layer shape of DeepSeek-V2/V3 (and Kimi K2) multi-head latent attention, in llama.cpp's deepseek2
/// naming: <c>Heads</c> = n_head, <c>NopeDim</c> = qk_nope_head_dim, <c>RopeDim</c> = qk_rope_head_dim,
/// <c>VDim</c> = v_head_dim, <c>Rank</c> = kv_lora_rank.</summary>
public readonly record struct MlaShape(int Heads, int NopeDim, int RopeDim, int VDim, int Rank)
{
    /// <summary>DeepSeek-V3 / R1: H 128, Dn 128, Dr 64, Dv 128, R 512.</summary>
    public static MlaShape DeepSeekV3 => new(128, 128, 64, 128, 512);

    /// <summary>Kimi K2: the DeepSeek-V3 attention with 64 heads.</summary>
    public static MlaShape KimiK2 => new(64, 128, 64, 128, 512);

    /// <summary>Floats per token in the MLA cache: the latent c_t [Rank] plus the shared roped key [RopeDim].</summary>
    public int LatentStride => Rank + RopeDim;
}

/// <summary>Multi-head latent attention for one new token (decode) against a cache of compressed latents.
/// <para>Cache, per past position t: <c>latents</c> [positions, Rank] holds c_t (already through kv_a_norm) and
/// <c>kRope</c> [positions, RopeDim] holds the roped key shared by all heads.</para>
/// <para>New token: <c>qNope</c> [Heads, NopeDim], <c>qRope</c> [Heads, RopeDim] (already roped).</para>
/// <para>Decompression weights, row-major f32: <c>wKb</c> [Heads, NopeDim, Rank] (k_nope_h = wKb[h] · c) and
/// <c>wVb</c> [Heads, VDim, Rank] (v_h = wVb[h] · c). This is the split of HF's kv_b_proj / GGUF's legacy
/// <c>attn_kv_b</c> (see <see cref="SplitKvB"/>). Note GGUF's <c>attn_k_b</c> is stored transposed
/// ([Heads, Rank, NopeDim] row-major, ggml ne = {NopeDim, Rank, Heads}); convert it with <see cref="KbFromGguf"/>.
/// GGUF's <c>attn_v_b</c> (ne = {Rank, VDim, Heads}) is already [Heads, VDim, Rank].</para>
/// <para>Output <c>o</c> [Heads, VDim] = Σ_t softmax_t(scale · (q_nope_h · k_nope_{h,t} + q_rope_h · k_rope_t)) · v_{h,t}.
/// <c>scale</c> is supplied by the caller (DeepSeek: 1/sqrt(NopeDim+RopeDim) · mscale², YaRN-corrected).</para></summary>
public static class MlaAttention
{
    /// <summary>Floats of scratch <see cref="DecodeAbsorbed"/> needs: positions (scores) + 2·Rank (q_lat, o_lat).</summary>
    public static int AbsorbedScratchLength(MlaShape s, int positions) => positions + 2 * s.Rank;

    /// <summary>Floats of scratch <see cref="Reference"/> needs: positions (scores) + NopeDim (one decompressed k_nope).</summary>
    public static int ReferenceScratchLength(MlaShape s, int positions) => positions + s.NopeDim;

    /// <summary>Absorbed MLA decode (the fast form): per head, q_lat = wKb[h]ᵀ · q_nope_h [Rank];
    /// score_t = scale · (q_lat · c_t + q_rope_h · k_rope_t); p = softmax(score); o_lat = Σ_t p_t c_t [Rank];
    /// o_h = wVb[h] · o_lat. The cache is never decompressed: work per position is Rank + RopeDim per head.
    /// Allocation-free; <paramref name="scratch"/> needs <see cref="AbsorbedScratchLength"/> floats.
    /// <para>Weights are f32 for now. Quantised weights plug in at the two weight products: with k_b in GGUF's
    /// transposed layout [Heads, Rank, NopeDim], q_lat is a <see cref="MatVec"/> of rows = Rank, cols = NopeDim per head,
    /// and o_h is a MatVec of wVb[h] (rows = VDim, cols = Rank) on o_lat; the latent dots stay f32 (or f16 cache).</para></summary>
    public static void DecodeAbsorbed(MlaShape s, ReadOnlySpan<float> qNope, ReadOnlySpan<float> qRope,
        ReadOnlySpan<float> latents, ReadOnlySpan<float> kRope, int positions,
        ReadOnlySpan<float> wKb, ReadOnlySpan<float> wVb, float scale, Span<float> output, Span<float> scratch)
    {
        CheckArgs(s, qNope, qRope, latents, kRope, positions, wKb, wVb, scale, output);
        if (scratch.Length < AbsorbedScratchLength(s, positions))
            throw new ArgumentException($"need {AbsorbedScratchLength(s, positions)} floats, got {scratch.Length}", nameof(scratch));
        int dn = s.NopeDim, dr = s.RopeDim, dv = s.VDim, r = s.Rank;
        var scores = scratch[..positions];
        var qLat = scratch.Slice(positions, r);
        var oLat = scratch.Slice(positions + r, r);
        for (var h = 0; h < s.Heads; h++)
        {
            // q_lat = Σ_d q_nope[d] · wKb[h, d, :]
            var kb = wKb.Slice(h * dn * r, dn * r);
            var qn = qNope.Slice(h * dn, dn);
            qLat.Clear();
            for (var d = 0; d < dn; d++)
                TensorPrimitives.MultiplyAdd(kb.Slice(d * r, r), qn[d], qLat, qLat);

            AttendHead(qLat, qRope.Slice(h * dr, dr), latents, r, kRope, dr, positions, scale, oLat, scores);

            var vb = wVb.Slice(h * dv * r, dv * r);
            var o = output.Slice(h * dv, dv);
            for (var j = 0; j < dv; j++)
                o[j] = TensorPrimitives.Dot(vb.Slice(j * r, r), oLat);
        }
    }

    /// <summary>One head's attention in latent space: score_t = scale · (q_lat · c_t + q_rope · k_rope_t) over positions
    /// [0, positions), p = softmax(score), o_lat = Σ_t p_t · c_t [Rank]. c_t is latents[t·latentStride ..][..Rank] and
    /// k_rope_t is kRope[t·ropeStride ..][..RopeDim], so one interleaved cache row [c_t | k_rope_t] (stride Rank +
    /// RopeDim, kRope = the cache from Rank on) and two separate arrays both work. <paramref name="scores"/> holds
    /// at least positions floats.</summary>
    public static void AttendHead(ReadOnlySpan<float> qLat, ReadOnlySpan<float> qRope, ReadOnlySpan<float> latents, int latentStride,
        ReadOnlySpan<float> kRope, int ropeStride, int positions, float scale, Span<float> oLat, Span<float> scores)
    {
        int r = qLat.Length, dr = qRope.Length;
        scores = scores[..positions];
        for (var t = 0; t < positions; t++)
        {
            var sc = TensorPrimitives.Dot(qLat, latents.Slice(t * latentStride, r));
            if (dr > 0) sc += TensorPrimitives.Dot(qRope, kRope.Slice(t * ropeStride, dr));
            scores[t] = sc * scale;
        }
        Softmax.InPlace(scores);

        oLat.Clear();
        for (var t = 0; t < positions; t++)
            TensorPrimitives.MultiplyAdd(latents.Slice(t * latentStride, r), scores[t], oLat, oLat);
    }

    /// <summary>Scalar oracle, the naive form: per head and position, decompress k_nope = wKb[h] · c_t and
    /// v = wVb[h] · c_t (double accumulation), score with the full key [k_nope, k_rope], softmax via
    /// <see cref="Softmax.Reference"/>, then Σ_t p_t · v_t in double. <paramref name="scratch"/> needs
    /// <see cref="ReferenceScratchLength"/> floats.</summary>
    public static void Reference(MlaShape s, ReadOnlySpan<float> qNope, ReadOnlySpan<float> qRope,
        ReadOnlySpan<float> latents, ReadOnlySpan<float> kRope, int positions,
        ReadOnlySpan<float> wKb, ReadOnlySpan<float> wVb, float scale, Span<float> output, Span<float> scratch)
    {
        CheckArgs(s, qNope, qRope, latents, kRope, positions, wKb, wVb, scale, output);
        if (scratch.Length < ReferenceScratchLength(s, positions))
            throw new ArgumentException($"need {ReferenceScratchLength(s, positions)} floats, got {scratch.Length}", nameof(scratch));
        int dn = s.NopeDim, dr = s.RopeDim, dv = s.VDim, r = s.Rank;
        var scores = scratch[..positions];
        var kNope = scratch.Slice(positions, dn);
        for (var h = 0; h < s.Heads; h++)
        {
            for (var t = 0; t < positions; t++)
            {
                for (var d = 0; d < dn; d++)
                {
                    double k = 0;
                    for (var i = 0; i < r; i++) k += (double)wKb[(h * dn + d) * r + i] * latents[t * r + i];
                    kNope[d] = (float)k;
                }
                double sc = 0;
                for (var d = 0; d < dn; d++) sc += (double)qNope[h * dn + d] * kNope[d];
                for (var d = 0; d < dr; d++) sc += (double)qRope[h * dr + d] * kRope[t * dr + d];
                scores[t] = (float)(sc * scale);
            }
            Softmax.Reference(scores);
            for (var j = 0; j < dv; j++)
            {
                double o = 0;
                for (var t = 0; t < positions; t++)
                {
                    double v = 0;
                    for (var i = 0; i < r; i++) v += (double)wVb[(h * dv + j) * r + i] * latents[t * r + i];
                    o += scores[t] * v;
                }
                output[h * dv + j] = (float)o;
            }
        }
    }

    /// <summary>Splits the combined kv_b weight [Heads·(NopeDim+VDim), Rank] (per head: NopeDim k rows, then VDim v rows;
    /// HF kv_b_proj, GGUF legacy <c>attn_kv_b</c>) into <paramref name="wKb"/> [Heads, NopeDim, Rank] and
    /// <paramref name="wVb"/> [Heads, VDim, Rank].</summary>
    public static void SplitKvB(MlaShape s, ReadOnlySpan<float> kvB, Span<float> wKb, Span<float> wVb)
    {
        CheckShape(s);
        CheckLen(kvB.Length, (long)s.Heads * (s.NopeDim + s.VDim) * s.Rank, nameof(kvB));
        CheckLen(wKb.Length, (long)s.Heads * s.NopeDim * s.Rank, nameof(wKb));
        CheckLen(wVb.Length, (long)s.Heads * s.VDim * s.Rank, nameof(wVb));
        int k = s.NopeDim * s.Rank, v = s.VDim * s.Rank;
        for (var h = 0; h < s.Heads; h++)
        {
            var src = kvB.Slice(h * (k + v), k + v);
            src[..k].CopyTo(wKb.Slice(h * k, k));
            src.Slice(k, v).CopyTo(wVb.Slice(h * v, v));
        }
    }

    /// <summary>Inverse of <see cref="SplitKvB"/>: interleaves per head back into [Heads·(NopeDim+VDim), Rank].</summary>
    public static void MergeKvB(MlaShape s, ReadOnlySpan<float> wKb, ReadOnlySpan<float> wVb, Span<float> kvB)
    {
        CheckShape(s);
        CheckLen(wKb.Length, (long)s.Heads * s.NopeDim * s.Rank, nameof(wKb));
        CheckLen(wVb.Length, (long)s.Heads * s.VDim * s.Rank, nameof(wVb));
        CheckLen(kvB.Length, (long)s.Heads * (s.NopeDim + s.VDim) * s.Rank, nameof(kvB));
        int k = s.NopeDim * s.Rank, v = s.VDim * s.Rank;
        for (var h = 0; h < s.Heads; h++)
        {
            var dst = kvB.Slice(h * (k + v), k + v);
            wKb.Slice(h * k, k).CopyTo(dst[..k]);
            wVb.Slice(h * v, v).CopyTo(dst.Slice(k, v));
        }
    }

    /// <summary>Converts GGUF's <c>attn_k_b</c> (ggml ne = {NopeDim, Rank, Heads}, i.e. row-major [Heads, Rank, NopeDim],
    /// the per-head transpose written by convert_hf_to_gguf) into <paramref name="wKb"/> [Heads, NopeDim, Rank].</summary>
    public static void KbFromGguf(MlaShape s, ReadOnlySpan<float> attnKb, Span<float> wKb)
    {
        CheckShape(s);
        var n = (long)s.Heads * s.NopeDim * s.Rank;
        CheckLen(attnKb.Length, n, nameof(attnKb));
        CheckLen(wKb.Length, n, nameof(wKb));
        int dn = s.NopeDim, r = s.Rank;
        for (var h = 0; h < s.Heads; h++)
            for (var i = 0; i < r; i++)
                for (var d = 0; d < dn; d++)
                    wKb[(h * dn + d) * r + i] = attnKb[(h * r + i) * dn + d];
    }

    /// <summary>Bytes per token per layer of the MLA cache: (Rank + RopeDim) elements.</summary>
    public static long CacheBytesPerToken(MlaShape s, int bytesPerElement)
    {
        CheckShape(s);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytesPerElement);
        return (long)(s.Rank + s.RopeDim) * bytesPerElement;
    }

    /// <summary>Bytes per token per layer of a naive (decompressed) K/V cache: Heads · ((NopeDim+RopeDim) + VDim) elements.</summary>
    public static long NaiveCacheBytesPerToken(MlaShape s, int bytesPerElement)
    {
        CheckShape(s);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytesPerElement);
        return (long)s.Heads * (s.NopeDim + s.RopeDim + s.VDim) * bytesPerElement;
    }

    private static void CheckShape(MlaShape s)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(s.Heads, "shape.Heads");
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(s.NopeDim, "shape.NopeDim");
        ArgumentOutOfRangeException.ThrowIfNegative(s.RopeDim, "shape.RopeDim");
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(s.VDim, "shape.VDim");
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(s.Rank, "shape.Rank");
    }

    private static void CheckLen(int have, long need, string name)
    {
        if (have < need) throw new ArgumentException($"need {need} floats, got {have}", name);
    }

    private static void CheckArgs(MlaShape s, ReadOnlySpan<float> qNope, ReadOnlySpan<float> qRope,
        ReadOnlySpan<float> latents, ReadOnlySpan<float> kRope, int positions,
        ReadOnlySpan<float> wKb, ReadOnlySpan<float> wVb, float scale, Span<float> output)
    {
        CheckShape(s);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(positions);
        if (!float.IsFinite(scale)) throw new ArgumentOutOfRangeException(nameof(scale), scale, "scale must be finite");
        CheckLen(qNope.Length, (long)s.Heads * s.NopeDim, nameof(qNope));
        CheckLen(qRope.Length, (long)s.Heads * s.RopeDim, nameof(qRope));
        CheckLen(latents.Length, (long)positions * s.Rank, nameof(latents));
        CheckLen(kRope.Length, (long)positions * s.RopeDim, nameof(kRope));
        CheckLen(wKb.Length, (long)s.Heads * s.NopeDim * s.Rank, nameof(wKb));
        CheckLen(wVb.Length, (long)s.Heads * s.VDim * s.Rank, nameof(wVb));
        CheckLen(output.Length, (long)s.Heads * s.VDim, nameof(output));
    }
}
