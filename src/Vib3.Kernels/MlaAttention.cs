using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Vib3.Core;

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
/// <c>wVb</c> [Heads, VDim, Rank] (v_h = wVb[h] · c): HF's kv_b_proj / GGUF's legacy <c>attn_kv_b</c> split per head
/// (the store keeps k_b transposed per head instead, see Vib3.Convert's KvbView).</para>
/// <para>Output <c>o</c> [Heads, VDim] = Σ_t softmax_t(scale · (q_nope_h · k_nope_{h,t} + q_rope_h · k_rope_t)) · v_{h,t}.
/// <c>scale</c> is supplied by the caller (DeepSeek: 1/sqrt(NopeDim+RopeDim) · mscale², YaRN-corrected).</para></summary>
public static class MlaAttention
{
    /// <summary>Floats of scratch <see cref="DecodeAbsorbed"/> needs: the interleaved cache, the heads' queries and their
    /// latent outputs.</summary>
    public static int AbsorbedScratchLength(MlaShape s, int positions) => (positions + s.Heads) * s.LatentStride + s.Heads * s.Rank;

    /// <summary>Floats of scratch <see cref="Reference"/> needs: positions (scores) + NopeDim (one decompressed k_nope).</summary>
    public static int ReferenceScratchLength(MlaShape s, int positions) => positions + s.NopeDim;

    /// <summary>Absorbed MLA decode for one token with f32 decompression weights: per head q_lat = wKb[h]ᵀ · q_nope_h
    /// [Rank], the heads' queries [q_lat | q_rope] attend through <see cref="AttendLatents"/>, and o_h = wVb[h] · o_lat_h.
    /// The cache is never decompressed. Checked against <see cref="Reference"/>; the forward pass wires the same
    /// <see cref="AttendLatents"/> with paged k_b / v_b products. <paramref name="scratch"/> needs
    /// <see cref="AbsorbedScratchLength"/> floats.</summary>
    public static void DecodeAbsorbed(MlaShape s, ReadOnlySpan<float> qNope, ReadOnlySpan<float> qRope,
        ReadOnlySpan<float> latents, ReadOnlySpan<float> kRope, int positions,
        ReadOnlySpan<float> wKb, ReadOnlySpan<float> wVb, float scale, Span<float> output, Span<float> scratch)
    {
        CheckArgs(s, qNope, qRope, latents, kRope, positions, wKb, wVb, scale, output);
        CheckLen(scratch.Length, AbsorbedScratchLength(s, positions), nameof(scratch));
        int dn = s.NopeDim, dr = s.RopeDim, dv = s.VDim, r = s.Rank, w = s.LatentStride;
        var cache = scratch[..(positions * w)];                       // [positions, Rank + RopeDim] c_t | k_rope_t
        var queries = scratch.Slice(positions * w, s.Heads * w);     // [Heads, Rank + RopeDim] q_lat | q_rope
        var oLat = scratch.Slice((positions + s.Heads) * w, s.Heads * r); // [Heads, Rank]
        for (var t = 0; t < positions; t++)
        {
            latents.Slice(t * r, r).CopyTo(cache.Slice(t * w, r));
            kRope.Slice(t * dr, dr).CopyTo(cache.Slice(t * w + r, dr));
        }
        for (var h = 0; h < s.Heads; h++)
        {
            var qLat = queries.Slice(h * w, r); // Σ_d q_nope[d] · wKb[h, d, :]
            qLat.Clear();
            for (var d = 0; d < dn; d++) TensorPrimitives.MultiplyAdd(wKb.Slice((h * dn + d) * r, r), qNope[h * dn + d], qLat, qLat);
            qRope.Slice(h * dr, dr).CopyTo(queries.Slice(h * w + r, dr));
        }
        var seen = new int[s.Heads];
        Array.Fill(seen, positions);
        AttendLatents(cache, positions, r, dr, queries, s.Heads, seen, scale, oLat);
        for (var h = 0; h < s.Heads; h++)
            for (var j = 0; j < dv; j++)
                output[h * dv + j] = TensorPrimitives.Dot(wVb.Slice((h * dv + j) * r, r), oLat.Slice(h * r, r));
    }

    /// <summary>Floats of scores held at once (queries × positions), bounding the scratch at long contexts.</summary>
    private const int ScoreBudget = 1 << 20;

    /// <summary>Attention in latent space of m queries against one sequence's cache, the fast form. Cache rows
    /// [positions, Rank + RopeDim] hold c_t | k_rope_t; query i [Rank + RopeDim] holds q_lat | q_rope and sees positions
    /// [0, visible[i]). score_it = scale · (query_i · row_t) — the latents are shared by every head and row of a sequence,
    /// so all the scores are one matrix product —, p_i = softmax over the visible positions, and
    /// output_i [Rank] = Σ_t p_it · c_t (<see cref="WeightedRows"/>: the latents read in place, each loaded vector
    /// serving four queries). Queries run in blocks so that at most <see cref="ScoreBudget"/> scores are held.</summary>
    public static void AttendLatents(ReadOnlySpan<float> cache, int positions, int rank, int ropeDim, ReadOnlySpan<float> queries, int m,
        ReadOnlySpan<int> visible, float scale, Span<float> output)
    {
        var w = rank + ropeDim;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(positions);
        CheckLen(cache.Length, (long)positions * w, nameof(cache));
        CheckLen(queries.Length, (long)m * w, nameof(queries));
        CheckLen(output.Length, (long)m * rank, nameof(output));
        if (visible.Length < m) throw new ArgumentException($"need {m} visible counts, got {visible.Length}", nameof(visible));
        foreach (var v in visible[..m])
            if (v < 1 || v > positions) throw new ArgumentOutOfRangeException(nameof(visible), v, $"each query sees 1..{positions} positions");
        var block = Math.Clamp(ScoreBudget / positions, 1, Math.Max(1, m));
        var scores = ArrayPool<float>.Shared.Rent(block * positions);    // [block, positions] scores, then probabilities
        var seen = ArrayPool<int>.Shared.Rent(block);
        try
        {
            for (var first = 0; first < m; first += block)
            {
                var n = Math.Min(block, m - first);
                visible.Slice(first, n).CopyTo(seen);
                MatMul.Compute(DType.F32, MemoryMarshal.AsBytes(cache[..(positions * w)]), positions, w, queries.Slice(first * w, n * w), n,
                    scores.AsSpan(0, n * positions));
                KernelThreads.ParallelFor(n, j =>
                {
                    var p = scores.AsSpan(j * positions, positions);
                    var v = seen[j];
                    TensorPrimitives.Multiply(p[..v], scale, p[..v]);
                    Softmax.InPlace(p[..v]);
                    p[v..].Clear();
                });
                WeightedRows.Compute(scores, n, positions, cache, w, rank, output.Slice(first * rank, n * rank));
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(scores);
            ArrayPool<int>.Shared.Return(seen);
        }
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
        CheckLen(scratch.Length, ReferenceScratchLength(s, positions), nameof(scratch));
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
