using Vib3.Synth;
using static Vib3.Models.Tests.LlamaCpp.NaiveOps;

namespace Vib3.Models.Tests.LlamaCpp;

/// <summary>A deliberately plain DeepSeek-V3 / Kimi K2 forward pass over a synthetic spec's HF tensors, written
/// only to pin down what llama.cpp computes for "deepseek2" files. Attention is MLA in its naive form: keys and
/// values decompressed per head from the latent (llama.cpp's absorbed form is the same sum reordered). The
/// options switch off single rules so a test can show each one matters.</summary>
internal static class NaiveDeepseek2Reference
{
    /// <summary>The router's and rope's rules; <see cref="LlamaCpp"/> is what llama.cpp does.</summary>
    public sealed record Options(bool SelectWithBias, bool LimitGroups, bool YarnKqScale)
    {
        public static Options LlamaCpp { get; } = new(SelectWithBias: true, LimitGroups: true, YarnKqScale: true);
    }

    /// <summary>llama.cpp clamps the sum of the chosen weights at the smallest normal f16 before dividing.</summary>
    private const double MinWeightSum = 6.103515625e-5;

    public static float[][] Logits(SyntheticModelSpec s, IReadOnlyList<int> tokens, Options? options = null)
    {
        var o = options ?? Options.LlamaCpp;
        var cache = new Dictionary<string, float[]>(StringComparer.Ordinal);
        float[] W(string name) => cache.TryGetValue(name, out var v) ? v : cache[name] = SyntheticModelGenerator.Values(s, name);
        int d = s.Dim, nh = s.Heads, nope = s.QkNopeHeadDim, rope = s.QkRopeHeadDim, vd = s.VHeadDim, lr = s.KvLoraRank, n = tokens.Count;
        int qk = nope + rope;
        var scale = KqScale(s, o);

        var emb = W("model.embed_tokens.weight");
        var x = tokens.Select(t => emb.AsSpan(t * d, d).ToArray()).ToArray();
        for (var l = 0; l < s.Layers; l++)
        {
            var p = $"model.layers.{l}.self_attn.";
            var q = new float[n][];     // [H·(N+R)] per token, rope applied to each head's last R
            var kNope = new float[n][]; // [H·N] per token
            var kPe = new float[n][];   // [R] per token, one for all heads
            var v = new float[n][];     // [H·V] per token
            for (var t = 0; t < n; t++)
            {
                var h = Rms(x[t], W($"model.layers.{l}.input_layernorm.weight"), s.NormEps);
                q[t] = s.QLoraRank > 0
                    ? MatVec(W(p + "q_b_proj.weight"), Rms(MatVec(W(p + "q_a_proj.weight"), h, s.QLoraRank), W(p + "q_a_layernorm.weight"), s.NormEps), nh * qk)
                    : MatVec(W(p + "q_proj.weight"), h, nh * qk);
                var kva = MatVec(W(p + "kv_a_proj_with_mqa.weight"), h, lr + rope);
                var latent = Rms(kva[..lr], W(p + "kv_a_layernorm.weight"), s.NormEps);
                kPe[t] = kva[lr..];
                var kv = MatVec(W(p + "kv_b_proj.weight"), latent, nh * (nope + vd));
                kNope[t] = new float[nh * nope];
                v[t] = new float[nh * vd];
                for (var head = 0; head < nh; head++)
                {
                    Array.Copy(kv, head * (nope + vd), kNope[t], head * nope, nope);
                    Array.Copy(kv, head * (nope + vd) + nope, v[t], head * vd, vd);
                    Rope(s, q[t].AsSpan(head * qk + nope, rope), t);
                }
                Rope(s, kPe[t], t);
            }
            for (var t = 0; t < n; t++)
            {
                var att = new float[nh * vd];
                for (var head = 0; head < nh; head++)
                {
                    var w = new double[t + 1];
                    for (var u = 0; u <= t; u++)
                    {
                        double a = 0;
                        for (var i = 0; i < nope; i++) a += q[t][head * qk + i] * kNope[u][head * nope + i];
                        for (var i = 0; i < rope; i++) a += q[t][head * qk + nope + i] * kPe[u][i];
                        w[u] = a * scale;
                    }
                    Softmax(w);
                    for (var u = 0; u <= t; u++)
                        for (var i = 0; i < vd; i++) att[head * vd + i] += (float)w[u] * v[u][head * vd + i];
                }
                AddInto(x[t], MatVec(W(p + "o_proj.weight"), att, d));
            }
            var mlp = $"model.layers.{l}.mlp.";
            for (var t = 0; t < n; t++)
            {
                var h = Rms(x[t], W($"model.layers.{l}.post_attention_layernorm.weight"), s.NormEps);
                var y = l < s.LeadingDenseLayers
                    ? SwiGlu(W(mlp + "gate_proj.weight"), W(mlp + "up_proj.weight"), W(mlp + "down_proj.weight"), h, s.DenseHidden, d)
                    : Moe(s, o, W, mlp, h);
                AddInto(x[t], y);
            }
        }
        return x.Select(r => MatVec(W("lm_head.weight"), Rms(r, W("model.norm.weight"), s.NormEps), s.Vocab)).ToArray();
    }

    /// <summary>Routed experts plus the shared one. Scores are sigmoid (or softmax) of the router logits; the bias
    /// only steers selection: groups ranked by the sum of their two best biased scores, the best GroupsUsed kept,
    /// top-k among them; the weights are the unbiased scores of the chosen, renormalised, then scaled.</summary>
    private static float[] Moe(SyntheticModelSpec s, Options o, Func<string, float[]> W, string mlp, float[] h)
    {
        int d = s.Dim, x = s.Experts;
        var scores = MatVec(W(mlp + "gate.weight"), h, x).Select(a => (double)a).ToArray();
        if (s.SigmoidGating) for (var e = 0; e < x; e++) scores[e] = 1 / (1 + Math.Exp(-scores[e]));
        else Softmax(scores);

        var select = (double[])scores.Clone();
        if (s.ScoreBias && o.SelectWithBias)
        {
            var bias = W(mlp + "gate.e_score_correction_bias");
            for (var e = 0; e < x; e++) select[e] += bias[e];
        }
        if (s.ExpertGroups > 1 && o.LimitGroups)
        {
            var per = x / s.ExpertGroups;
            var groupScore = Enumerable.Range(0, s.ExpertGroups)
                .Select(g => select.Skip(g * per).Take(per).OrderDescending().Take(2).Sum()).ToArray();
            var kept = Enumerable.Range(0, s.ExpertGroups).OrderByDescending(g => groupScore[g]).Take(s.GroupsUsed).ToHashSet();
            for (var e = 0; e < x; e++)
                if (!kept.Contains(e / per)) select[e] = double.NegativeInfinity;
        }
        var top = Enumerable.Range(0, x).OrderByDescending(e => select[e]).Take(s.TopK).ToArray();
        var weights = top.Select(e => scores[e]).ToArray();
        if (s.NormTopKProb)
        {
            var sum = Math.Max(weights.Sum(), MinWeightSum);
            for (var i = 0; i < weights.Length; i++) weights[i] /= sum;
        }
        var y = new float[d];
        for (var j = 0; j < top.Length; j++)
        {
            var e = $"{mlp}experts.{top[j]}.";
            AddInto(y, SwiGlu(W(e + "gate_proj.weight"), W(e + "up_proj.weight"), W(e + "down_proj.weight"), h, s.ExpertHidden, d),
                (float)(weights[j] * s.RoutedScale));
        }
        if (s.SharedExperts > 0)
            AddInto(y, SwiGlu(W(mlp + "shared_experts.gate_proj.weight"), W(mlp + "shared_experts.up_proj.weight"),
                W(mlp + "shared_experts.down_proj.weight"), h, s.SharedExperts * s.ExpertHidden, d));
        return y;
    }

    /// <summary>1/√(N+R), times mscale² under YaRN with mscale = 1 + 0.1·mscale_all_dim·ln(factor) (DeepSeek's
    /// softmax_scale); the rope's own magnitude stays 1 because the config's mscale equals mscale_all_dim. Valid for
    /// MscaleAllDim &gt; 0 only: with 0 llama.cpp falls back to plain YaRN (cos/sin times 1 + 0.1·ln factor) and
    /// still multiplies the KQ scale by that factor squared, which transformers does not (4e-3 off here).</summary>
    private static double KqScale(SyntheticModelSpec s, Options o)
    {
        var scale = 1 / Math.Sqrt(s.QkNopeHeadDim + s.QkRopeHeadDim);
        if (s.YarnFactor <= 0 || !o.YarnKqScale) return scale;
        var mscale = 1 + 0.1 * s.MscaleAllDim * Math.Log(s.YarnFactor);
        return scale * mscale * mscale;
    }

    /// <summary>Consecutive-pair rope on one R-wide slice; under YaRN each pair's angle blends the plain one
    /// (extrapolation) with the one divided by the factor (interpolation) by a ramp over the pair index between
    /// the dimensions that turn beta_fast = 32 and beta_slow = 1 times over the original context.</summary>
    private static void Rope(SyntheticModelSpec s, Span<float> v, int pos)
    {
        int dims = v.Length;
        double low = 0, high = 0;
        if (s.YarnFactor > 0)
        {
            double CorrDim(double rotations) =>
                dims * Math.Log(s.YarnOriginalContext / (rotations * 2 * Math.PI)) / (2 * Math.Log(s.RopeTheta));
            low = Math.Max(0, Math.Floor(CorrDim(32)));
            high = Math.Min(dims - 1, Math.Ceiling(CorrDim(1)));
        }
        for (var i = 0; i < dims / 2; i++)
        {
            var extrapolated = pos * Math.Pow(s.RopeTheta, -2.0 * i / dims);
            var angle = extrapolated;
            if (s.YarnFactor > 0)
            {
                var extrapolatedShare = 1 - Math.Clamp((i - low) / Math.Max(0.001, high - low), 0, 1);
                angle = extrapolated / s.YarnFactor * (1 - extrapolatedShare) + extrapolated * extrapolatedShare;
            }
            float c = (float)Math.Cos(angle), sn = (float)Math.Sin(angle), x0 = v[2 * i], x1 = v[2 * i + 1];
            v[2 * i] = x0 * c - x1 * sn;
            v[2 * i + 1] = x0 * sn + x1 * c;
        }
    }
}
