using System.Runtime.InteropServices;

namespace Vib3.Kernels;

/// <summary>How router logits become per-expert scores. The values match GGUF's <c>expert_gating_func</c>
/// (llama.cpp's <c>llama_expert_gating_func_type</c>: 1 = softmax, 2 = sigmoid).</summary>
public enum ExpertGating
{
    Softmax = 1,
    Sigmoid = 2,
}

/// <summary>
/// The DeepSeek-V3 / Kimi K2 expert router for one token (as llama.cpp's <c>build_moe_ffn</c> gates deepseek2):
/// <list type="number">
/// <item>scores = sigmoid(logits) (or softmax over all experts);</item>
/// <item>selection = scores + bias (<c>exp_probs_b</c> / <c>e_score_correction_bias</c>; empty span = no bias);</item>
/// <item>when groups &gt; 1: each group of experts/groups consecutive experts is scored by the sum of its two best
///   selection values; only the best <c>groupsUsed</c> groups stay eligible;</item>
/// <item>the k best eligible experts by selection value (descending; ties to the lower index; NaN last,
///   exactly <see cref="TopK"/>'s order); experts of masked-out groups are never chosen;</item>
/// <item>weights = the UNBIASED scores of those experts, divided by max(Σ, 6.103515625e-5) when
///   <c>normalize</c>, then multiplied by <c>scale</c> (0 means "unset" = 1, as llama.cpp treats
///   <c>expert_weights_scale</c>).</item>
/// </list>
/// groups 0 or 1 means no grouping (groupsUsed is then ignored). Allocation-free: the caller passes
/// <see cref="ScratchLength"/> floats of scratch.
/// </summary>
public static class GroupedRouter
{
    /// <summary>llama.cpp clamps the weight sum to the smallest normal f16 before dividing.</summary>
    public const float NormEpsilon = 6.103515625e-5f;

    /// <summary>Floats of scratch <see cref="Route"/> needs.</summary>
    public static int ScratchLength(int experts, int groups)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(experts);
        ArgumentOutOfRangeException.ThrowIfNegative(groups);
        return experts + (groups > 1 ? 3 * groups : 0);
    }

    /// <summary>Experts that can be chosen: all of them, or groupsUsed whole groups.</summary>
    public static int EligibleExperts(int experts, int groups, int groupsUsed) =>
        groups > 1 ? groupsUsed * (experts / groups) : experts;

    public static void Route(
        ReadOnlySpan<float> logits, ReadOnlySpan<float> bias, ExpertGating gating,
        int groups, int groupsUsed, int k, bool normalize, float scale,
        Span<int> indices, Span<float> weights, Span<float> scratch)
    {
        Validate(logits.Length, bias.Length, gating, groups, groupsUsed, k, indices.Length, weights.Length);
        var experts = logits.Length;
        var need = ScratchLength(experts, groups);
        if (scratch.Length < need)
            throw new ArgumentException($"scratch: need {need} floats, got {scratch.Length}", nameof(scratch));
        if (k == 0) return;

        // 1. selection values = score (+ bias). The softmax constants are kept to re-derive the selected weights.
        var sel = scratch[..experts];
        float max = 0, inv = 0;
        if (gating == ExpertGating.Sigmoid)
        {
            for (var i = 0; i < experts; i++) sel[i] = Sigmoid(logits[i]);
        }
        else
        {
            (max, inv) = SoftmaxConstants(logits);
            for (var i = 0; i < experts; i++) sel[i] = MathF.Exp(logits[i] - max) * inv;
        }
        if (!bias.IsEmpty)
            for (var i = 0; i < experts; i++) sel[i] += bias[i];

        if (groups <= 1)
        {
            TopK.Select(sel, k, indices, weights);
        }
        else
        {
            // 2. group score = sum of the group's two best selection values (TopK's order: NaN last).
            var per = experts / groups;
            var groupScore = scratch.Slice(experts, groups);
            var groupTop = scratch.Slice(experts + groups, groups);
            var groupIdx = MemoryMarshal.Cast<float, int>(scratch.Slice(experts + 2 * groups, groups));
            Span<int> top2i = stackalloc int[2];
            Span<float> top2v = stackalloc float[2];
            for (var g = 0; g < groups; g++)
            {
                TopK.Select(sel.Slice(g * per, per), 2, top2i, top2v);
                groupScore[g] = top2v[0] + top2v[1];
            }

            // 3. keep the best groupsUsed groups, in ascending group order, packed to the front of sel: packing
            //    preserves index order, so TopK's lower-index-first tie-break still holds after mapping back.
            TopK.Select(groupScore, groupsUsed, groupIdx, groupTop);
            groupIdx = groupIdx[..groupsUsed];
            groupIdx.Sort();
            for (var s = 0; s < groupsUsed; s++)
                if (groupIdx[s] != s) sel.Slice(groupIdx[s] * per, per).CopyTo(sel.Slice(s * per, per));

            // 4. the k best eligible experts.
            TopK.Select(sel[..(groupsUsed * per)], k, indices, weights);
            for (var j = 0; j < k; j++)
            {
                var packed = indices[j];
                indices[j] = groupIdx[packed / per] * per + packed % per;
            }
        }

        // 5. weights from the unbiased scores, normalised, scaled.
        for (var j = 0; j < k; j++)
        {
            var x = logits[indices[j]];
            weights[j] = gating == ExpertGating.Sigmoid ? Sigmoid(x) : MathF.Exp(x - max) * inv;
        }
        Finish(weights[..k], normalize, scale);
    }

    /// <summary>Scalar oracle: same arithmetic, selection by full sorts rather than <see cref="TopK"/>. Allocates.</summary>
    public static void Reference(
        ReadOnlySpan<float> logits, ReadOnlySpan<float> bias, ExpertGating gating,
        int groups, int groupsUsed, int k, bool normalize, float scale,
        Span<int> indices, Span<float> weights)
    {
        Validate(logits.Length, bias.Length, gating, groups, groupsUsed, k, indices.Length, weights.Length);
        var experts = logits.Length;
        var probs = new float[experts];
        if (gating == ExpertGating.Sigmoid)
        {
            for (var i = 0; i < experts; i++) probs[i] = Sigmoid(logits[i]);
        }
        else
        {
            var (max, inv) = SoftmaxConstants(logits);
            for (var i = 0; i < experts; i++) probs[i] = MathF.Exp(logits[i] - max) * inv;
        }
        var sel = new float[experts];
        for (var i = 0; i < experts; i++) sel[i] = bias.IsEmpty ? probs[i] : probs[i] + bias[i];

        var eligible = new bool[experts];
        if (groups <= 1)
        {
            Array.Fill(eligible, true);
        }
        else
        {
            var per = experts / groups;
            var groupScore = new float[groups];
            for (var g = 0; g < groups; g++)
            {
                var members = Enumerable.Range(g * per, per).ToArray();
                Array.Sort(members, (a, b) => Order(sel[a], a, sel[b], b));
                groupScore[g] = sel[members[0]] + sel[members[1]];
            }
            var ranked = Enumerable.Range(0, groups).ToArray();
            Array.Sort(ranked, (a, b) => Order(groupScore[a], a, groupScore[b], b));
            for (var r = 0; r < groupsUsed; r++)
                for (var i = 0; i < per; i++) eligible[ranked[r] * per + i] = true;
        }

        var candidates = Enumerable.Range(0, experts).Where(i => eligible[i]).ToArray();
        Array.Sort(candidates, (a, b) => Order(sel[a], a, sel[b], b));
        for (var j = 0; j < k; j++)
        {
            indices[j] = candidates[j];
            weights[j] = probs[candidates[j]];
        }
        Finish(weights[..k], normalize, scale);
    }

    private static void Validate(int experts, int biasLength, ExpertGating gating, int groups, int groupsUsed, int k,
        int indicesLength, int weightsLength)
    {
        if (experts == 0) throw new ArgumentException("logits: need at least one expert", "logits");
        if (biasLength != 0 && biasLength != experts)
            throw new ArgumentException($"bias: need {experts} values (or none), got {biasLength}", "bias");
        if (gating is not (ExpertGating.Softmax or ExpertGating.Sigmoid))
            throw new ArgumentOutOfRangeException(nameof(gating), gating, "gating must be Softmax or Sigmoid");
        if (groups < 0) throw new ArgumentOutOfRangeException(nameof(groups), groups, "groups must be >= 0");
        if (groups > 1)
        {
            if (experts % groups != 0)
                throw new ArgumentException($"groups: {groups} groups do not divide {experts} experts", nameof(groups));
            if (experts / groups < 2)
                throw new ArgumentException($"groups: each group needs at least 2 experts (top-2 group score), got {experts / groups}", nameof(groups));
            if (groupsUsed < 1 || groupsUsed > groups)
                throw new ArgumentOutOfRangeException(nameof(groupsUsed), groupsUsed, $"groupsUsed must be in [1, {groups}]");
        }
        var eligible = EligibleExperts(experts, groups, groupsUsed);
        if (k < 0 || k > eligible)
            throw new ArgumentOutOfRangeException(nameof(k), k, $"k must be in [0, {eligible}] (eligible experts)");
        if (indicesLength < k) throw new ArgumentException($"indices: need {k}, got {indicesLength}", "indices");
        if (weightsLength < k) throw new ArgumentException($"weights: need {k}, got {weightsLength}", "weights");
    }

    private static void Finish(Span<float> w, bool normalize, float scale)
    {
        if (normalize)
        {
            var sum = 0f;
            foreach (var v in w) sum += v;
            sum = MathF.Max(sum, NormEpsilon);
            for (var j = 0; j < w.Length; j++) w[j] /= sum;
        }
        if (scale != 0f && scale != 1f)
            for (var j = 0; j < w.Length; j++) w[j] *= scale;
    }

    private static float Sigmoid(float x) => 1f / (1f + MathF.Exp(-x));

    /// <summary>Max, and 1/Σexp(x − max) with the sum in double (as <see cref="Softmax.Reference"/>).</summary>
    private static (float Max, float Inv) SoftmaxConstants(ReadOnlySpan<float> x)
    {
        var max = float.NegativeInfinity;
        foreach (var v in x) max = MathF.Max(max, v);
        double sum = 0;
        foreach (var v in x) sum += MathF.Exp(v - max);
        return (max, (float)(1.0 / sum));
    }

    /// <summary>Sort comparison matching <see cref="TopK"/>: larger first, then lower index; NaN after every number.</summary>
    private static int Order(float v, int i, float u, int j)
    {
        var vn = float.IsNaN(v);
        var un = float.IsNaN(u);
        if (vn != un) return vn ? 1 : -1;
        if (!vn && v != u) return v > u ? -1 : 1;
        return i.CompareTo(j);
    }
}
