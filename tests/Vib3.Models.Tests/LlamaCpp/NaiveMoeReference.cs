using Vib3.Synth;
using static Vib3.Models.Tests.LlamaCpp.NaiveOps;

namespace Vib3.Models.Tests.LlamaCpp;

/// <summary>A deliberately plain forward pass over a synthetic spec's HF tensors (transformers' semantics:
/// rotate-half RoPE on unpermuted Q/K, softmax router over all experts, top-k), written only to pin down what
/// llama.cpp computes for each family. The switches are the points where the families differ.</summary>
internal static class NaiveMoeReference
{
    public enum QkNorm { None, PerHead, FullWidth }

    public sealed record Options(bool RenormalizeTopK, QkNorm QkNorm);

    /// <summary>What llama.cpp does per family (verified against it in <see cref="LlamaCppSemanticsTests"/>).</summary>
    public static Options LlamaCppOptions(ModelFamily f) => f switch
    {
        ModelFamily.Mixtral => new(RenormalizeTopK: true, QkNorm.None),
        ModelFamily.Qwen2Moe => new(RenormalizeTopK: false, QkNorm.None),
        ModelFamily.Qwen3Moe => new(RenormalizeTopK: true, QkNorm.PerHead),
        ModelFamily.Olmoe => new(RenormalizeTopK: false, QkNorm.FullWidth),
        _ => throw new ArgumentOutOfRangeException(nameof(f)),
    };

    public static float[][] Logits(SyntheticModelSpec s, IReadOnlyList<int> tokens, Options o)
    {
        var cache = new Dictionary<string, float[]>(StringComparer.Ordinal);
        float[] W(string n) => cache.TryGetValue(n, out var v) ? v : cache[n] = SyntheticModelGenerator.Values(s, n);
        int d = s.Dim, nh = s.Heads, nkv = s.KvHeads, hd = s.HeadDim, n = tokens.Count;

        var emb = W("model.embed_tokens.weight");
        var x = tokens.Select(t => emb.AsSpan(t * d, d).ToArray()).ToArray();
        for (var l = 0; l < s.Layers; l++)
        {
            var p = $"model.layers.{l}.";
            var q = new float[n][];
            var k = new float[n][];
            var v = new float[n][];
            for (var t = 0; t < n; t++)
            {
                var h = Rms(x[t], W(p + "input_layernorm.weight"), s.NormEps);
                q[t] = MatVec(W(p + "self_attn.q_proj.weight"), h, nh * hd);
                k[t] = MatVec(W(p + "self_attn.k_proj.weight"), h, nkv * hd);
                v[t] = MatVec(W(p + "self_attn.v_proj.weight"), h, nkv * hd);
                if (s.Family == ModelFamily.Qwen2Moe)
                {
                    AddInto(q[t], W(p + "self_attn.q_proj.bias"));
                    AddInto(k[t], W(p + "self_attn.k_proj.bias"));
                    AddInto(v[t], W(p + "self_attn.v_proj.bias"));
                }
                if (o.QkNorm == QkNorm.FullWidth)
                {
                    q[t] = Rms(q[t], W(p + "self_attn.q_norm.weight"), s.NormEps);
                    k[t] = Rms(k[t], W(p + "self_attn.k_norm.weight"), s.NormEps);
                }
                else if (o.QkNorm == QkNorm.PerHead)
                {
                    RmsPerHead(q[t], W(p + "self_attn.q_norm.weight"), hd, s.NormEps);
                    RmsPerHead(k[t], W(p + "self_attn.k_norm.weight"), hd, s.NormEps);
                }
                RotateHalf(q[t], hd, t, s.RopeTheta);
                RotateHalf(k[t], hd, t, s.RopeTheta);
            }
            for (var t = 0; t < n; t++)
            {
                var att = new float[nh * hd];
                for (var head = 0; head < nh; head++)
                {
                    var kh = head / (nh / nkv);
                    var w = new double[t + 1];
                    for (var u = 0; u <= t; u++)
                    {
                        double a = 0;
                        for (var i = 0; i < hd; i++) a += q[t][head * hd + i] * k[u][kh * hd + i];
                        w[u] = a / Math.Sqrt(hd);
                    }
                    Softmax(w);
                    for (var u = 0; u <= t; u++)
                        for (var i = 0; i < hd; i++) att[head * hd + i] += (float)w[u] * v[u][kh * hd + i];
                }
                AddInto(x[t], MatVec(W(p + "self_attn.o_proj.weight"), att, d));
            }
            var mlp = s.Family == ModelFamily.Mixtral ? p + "block_sparse_moe." : p + "mlp.";
            for (var t = 0; t < n; t++)
            {
                var h = Rms(x[t], W(p + "post_attention_layernorm.weight"), s.NormEps);
                var probs = MatVec(W(mlp + "gate.weight"), h, s.Experts).Select(a => (double)a).ToArray();
                Softmax(probs);
                var top = Enumerable.Range(0, s.Experts).OrderByDescending(e => probs[e]).ThenBy(e => e).Take(s.TopK).ToArray();
                var weights = top.Select(e => probs[e]).ToArray();
                if (o.RenormalizeTopK)
                {
                    var sum = weights.Sum();
                    for (var i = 0; i < weights.Length; i++) weights[i] /= sum;
                }
                var y = new float[d];
                for (var j = 0; j < top.Length; j++)
                {
                    var e = top[j];
                    var (g, u, dn) = s.Family == ModelFamily.Mixtral
                        ? ($"{mlp}experts.{e}.w1.weight", $"{mlp}experts.{e}.w3.weight", $"{mlp}experts.{e}.w2.weight")
                        : ($"{mlp}experts.{e}.gate_proj.weight", $"{mlp}experts.{e}.up_proj.weight", $"{mlp}experts.{e}.down_proj.weight");
                    AddInto(y, SwiGlu(W(g), W(u), W(dn), h, s.ExpertHidden, d), (float)weights[j]);
                }
                if (s.Family == ModelFamily.Qwen2Moe)
                {
                    var shared = SwiGlu(W(mlp + "shared_expert.gate_proj.weight"), W(mlp + "shared_expert.up_proj.weight"),
                        W(mlp + "shared_expert.down_proj.weight"), h, s.SharedExpertHidden, d);
                    var gate = MatVec(W(mlp + "shared_expert_gate.weight"), h, 1)[0];
                    AddInto(y, shared, 1f / (1f + MathF.Exp(-gate)));
                }
                AddInto(x[t], y);
            }
        }
        return x.Select(r => MatVec(W("lm_head.weight"), Rms(r, W("model.norm.weight"), s.NormEps), s.Vocab)).ToArray();
    }

    private static void RmsPerHead(float[] v, float[] w, int hd, double eps)
    {
        for (var off = 0; off < v.Length; off += hd)
            Rms(v.AsSpan(off, hd).ToArray(), w, eps).CopyTo(v, off);
    }

    /// <summary>transformers' rotate_half: element i pairs with i + hd/2 within each head.</summary>
    private static void RotateHalf(float[] v, int hd, int pos, double theta)
    {
        var half = hd / 2;
        for (var off = 0; off < v.Length; off += hd)
            for (var i = 0; i < half; i++)
            {
                var a = pos * Math.Pow(theta, -2.0 * i / hd);
                float c = (float)Math.Cos(a), sn = (float)Math.Sin(a), x0 = v[off + i], x1 = v[off + i + half];
                v[off + i] = x0 * c - x1 * sn;
                v[off + i + half] = x0 * sn + x1 * c;
            }
    }
}
