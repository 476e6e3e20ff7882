using Vib3.Core;

namespace Vib3.Synth;

/// <summary>Tensor listings of a synthetic DeepSeek-V3 / Kimi K2 checkpoint: the HF names and shapes DeepSeek-V3
/// ships (numpy order), and the GGUF tensors llama.cpp's converter makes of them (experts stacked, kv_b_proj
/// split for MLA, MTP layers dropped). Letters: d hidden, H heads, N/R/V nope/rope/value head widths, L kv
/// lora rank, Q q lora rank, F dense width, Fe expert width, S shared experts, X experts.</summary>
internal static class Deepseek2Layout
{
    private const SyntheticTensorKind M = SyntheticTensorKind.Matrix, Nm = SyntheticTensorKind.Norm,
        R = SyntheticTensorKind.Router, Sb = SyntheticTensorKind.ScoreBias;

    public static List<SyntheticTensor> HfTensors(SyntheticModelSpec s)
    {
        long d = s.Dim;
        var list = new List<SyntheticTensor>();
        void Add(string n, SyntheticTensorKind k, params long[] shape) => list.Add(new SyntheticTensor(n, shape, k));

        Add("model.embed_tokens.weight", M, s.Vocab, d);                      // [vocab, d]
        for (var l = 0; l < s.Layers; l++) AddDecoderLayer(s, $"model.layers.{l}.", l, Add);
        Add("model.norm.weight", Nm, d);                                       // [d]
        Add("lm_head.weight", M, s.Vocab, d);                                  // [vocab, d]

        // DeepSeek-V3 ships its multi-token-prediction module as extra layers numbered after the main ones:
        // a full decoder layer plus the projection that mixes the previous hidden state with the next embedding.
        for (var i = 0; i < s.MtpLayers; i++)
        {
            var p = $"model.layers.{s.Layers + i}.";
            Add(p + "embed_tokens.weight", M, s.Vocab, d);                     // [vocab, d]
            Add(p + "enorm.weight", Nm, d);                                    // [d] norm of the token embedding
            Add(p + "hnorm.weight", Nm, d);                                    // [d] norm of the previous hidden state
            Add(p + "eh_proj.weight", M, d, 2 * d);                            // [d, 2d] over concat(enorm, hnorm)
            AddDecoderLayer(s, p, s.Layers + i, Add);
            Add(p + "shared_head.norm.weight", Nm, d);                         // [d]
            Add(p + "shared_head.head.weight", M, s.Vocab, d);                 // [vocab, d]
        }
        return list;
    }

    private static void AddDecoderLayer(SyntheticModelSpec s, string p, int layer, Action<string, SyntheticTensorKind, long[]> add)
    {
        long d = s.Dim, h = s.Heads, nr = s.QkNopeHeadDim + s.QkRopeHeadDim, lr = s.KvLoraRank;
        add(p + "input_layernorm.weight", Nm, [d]);                                             // [d]
        if (s.QLoraRank > 0)
        {
            add(p + "self_attn.q_a_proj.weight", M, [s.QLoraRank, d]);                          // [Q, d]
            add(p + "self_attn.q_a_layernorm.weight", Nm, [s.QLoraRank]);                       // [Q]
            add(p + "self_attn.q_b_proj.weight", M, [h * nr, s.QLoraRank]);                     // [H·(N+R), Q]
        }
        else
        {
            add(p + "self_attn.q_proj.weight", M, [h * nr, d]);                                // [H·(N+R), d]
        }
        add(p + "self_attn.kv_a_proj_with_mqa.weight", M, [lr + s.QkRopeHeadDim, d]);           // [L+R, d]: latent, then rope key
        add(p + "self_attn.kv_a_layernorm.weight", Nm, [lr]);                                   // [L]
        add(p + "self_attn.kv_b_proj.weight", M, [h * (s.QkNopeHeadDim + s.VHeadDim), lr]);     // [H·(N+V), L]: per head N key rows, V value rows
        add(p + "self_attn.o_proj.weight", M, [d, h * s.VHeadDim]);                             // [d, H·V]
        add(p + "post_attention_layernorm.weight", Nm, [d]);                                    // [d]
        if (layer < s.LeadingDenseLayers)
        {
            add(p + "mlp.gate_proj.weight", M, [s.DenseHidden, d]);                             // [F, d]
            add(p + "mlp.up_proj.weight", M, [s.DenseHidden, d]);                               // [F, d]
            add(p + "mlp.down_proj.weight", M, [d, s.DenseHidden]);                             // [d, F]
            return;
        }
        add(p + "mlp.gate.weight", R, [s.Experts, d]);                                          // [X, d]
        if (s.ScoreBias) add(p + "mlp.gate.e_score_correction_bias", Sb, [s.Experts]);          // [X]
        for (var e = 0; e < s.Experts; e++)
        {
            var x = p + $"mlp.experts.{e}.";
            add(x + "gate_proj.weight", M, [s.ExpertHidden, d]);                                // [Fe, d]
            add(x + "up_proj.weight", M, [s.ExpertHidden, d]);                                  // [Fe, d]
            add(x + "down_proj.weight", M, [d, s.ExpertHidden]);                                // [d, Fe]
        }
        if (s.SharedExperts > 0)
        {
            long sh = (long)s.SharedExperts * s.ExpertHidden;
            add(p + "mlp.shared_experts.gate_proj.weight", M, [sh, d]);                         // [S·Fe, d]
            add(p + "mlp.shared_experts.up_proj.weight", M, [sh, d]);                           // [S·Fe, d]
            add(p + "mlp.shared_experts.down_proj.weight", M, [d, sh]);                         // [d, S·Fe]
        }
    }

    public static List<SyntheticGgufTensor> GgufTensors(SyntheticModelSpec s, IReadOnlyDictionary<string, SyntheticTensor> hf)
    {
        var list = new List<SyntheticGgufTensor>();
        void Copy(string gguf, string hfName)
        {
            var t = hf[hfName];
            list.Add(new SyntheticGgufTensor(gguf, t.Shape, SyntheticModelGenerator.GgufDType(s, t.Kind, t.Shape), t.Kind, [hfName], 0));
        }
        void Stack(string gguf, IReadOnlyList<string> sources)
        {
            var t = hf[sources[0]];
            long[] shape = [sources.Count, .. t.Shape];
            list.Add(new SyntheticGgufTensor(gguf, shape, SyntheticModelGenerator.GgufDType(s, t.Kind, shape), t.Kind, sources, 0));
        }
        void Split(string gguf, string hfName, KvBPart part, long[] shape)
        {
            // q8_0 would need 32-wide rows; k_b rows are N wide (16 here, 128 in DeepSeek-V3), so both halves
            // stay f16 under q8_0 and the pair is stored alike.
            var dtype = s.DType == DType.Q8_0 ? DType.F16 : s.DType;
            list.Add(new SyntheticGgufTensor(gguf, shape, dtype, SyntheticTensorKind.Matrix, [hfName], 0) { Part = part });
        }

        Copy("token_embd.weight", "model.embed_tokens.weight");
        for (var l = 0; l < s.Layers; l++)
        {
            var p = $"model.layers.{l}.";
            var b = $"blk.{l}.";
            Copy(b + "attn_norm.weight", p + "input_layernorm.weight");
            if (s.QLoraRank > 0)
            {
                Copy(b + "attn_q_a.weight", p + "self_attn.q_a_proj.weight");
                Copy(b + "attn_q_a_norm.weight", p + "self_attn.q_a_layernorm.weight");
                Copy(b + "attn_q_b.weight", p + "self_attn.q_b_proj.weight");
            }
            else
            {
                Copy(b + "attn_q.weight", p + "self_attn.q_proj.weight");
            }
            Copy(b + "attn_kv_a_mqa.weight", p + "self_attn.kv_a_proj_with_mqa.weight");
            Copy(b + "attn_kv_a_norm.weight", p + "self_attn.kv_a_layernorm.weight");
            if (s.MlaSplit)
            {
                long h = s.Heads, lr = s.KvLoraRank;
                Split(b + "attn_k_b.weight", p + "self_attn.kv_b_proj.weight", KvBPart.Key, [h, lr, s.QkNopeHeadDim]);  // [H, L, N]
                Split(b + "attn_v_b.weight", p + "self_attn.kv_b_proj.weight", KvBPart.Value, [h, s.VHeadDim, lr]);     // [H, V, L]
            }
            else
            {
                Copy(b + "attn_kv_b.weight", p + "self_attn.kv_b_proj.weight");
            }
            Copy(b + "attn_output.weight", p + "self_attn.o_proj.weight");
            Copy(b + "ffn_norm.weight", p + "post_attention_layernorm.weight");
            if (l < s.LeadingDenseLayers)
            {
                Copy(b + "ffn_gate.weight", p + "mlp.gate_proj.weight");
                Copy(b + "ffn_up.weight", p + "mlp.up_proj.weight");
                Copy(b + "ffn_down.weight", p + "mlp.down_proj.weight");
                continue;
            }
            var x = p + "mlp.";
            Copy(b + "ffn_gate_inp.weight", x + "gate.weight");
            if (s.ScoreBias) Copy(b + "exp_probs_b.bias", x + "gate.e_score_correction_bias");
            var experts = Enumerable.Range(0, s.Experts);
            Stack(b + "ffn_gate_exps.weight", experts.Select(e => $"{x}experts.{e}.gate_proj.weight").ToList());
            Stack(b + "ffn_up_exps.weight", experts.Select(e => $"{x}experts.{e}.up_proj.weight").ToList());
            Stack(b + "ffn_down_exps.weight", experts.Select(e => $"{x}experts.{e}.down_proj.weight").ToList());
            if (s.SharedExperts > 0)
            {
                Copy(b + "ffn_gate_shexp.weight", x + "shared_experts.gate_proj.weight");
                Copy(b + "ffn_up_shexp.weight", x + "shared_experts.up_proj.weight");
                Copy(b + "ffn_down_shexp.weight", x + "shared_experts.down_proj.weight");
            }
        }
        Copy("output_norm.weight", "model.norm.weight");
        Copy("output.weight", "lm_head.weight");
        return list;
    }

    /// <summary>One half of kv_b_proj as llama.cpp's converter splits it: the weight viewed as [H, N+V, L];
    /// <see cref="KvBPart.Key"/> gives each head's first N rows transposed ([H, L, N]), <see cref="KvBPart.Value"/>
    /// each head's last V rows as they are ([H, V, L]).</summary>
    public static float[] SplitKvB(SyntheticModelSpec s, float[] kvB, KvBPart part)
    {
        int h = s.Heads, n = s.QkNopeHeadDim, v = s.VHeadDim, l = s.KvLoraRank, rows = n + v;
        var o = new float[h * (part == KvBPart.Key ? n : v) * l];
        for (var head = 0; head < h; head++)
        {
            var src = head * rows * l;
            if (part == KvBPart.Key)
            {
                for (var r = 0; r < n; r++)
                    for (var c = 0; c < l; c++)
                        o[(head * l + c) * n + r] = kvB[src + r * l + c];
            }
            else
            {
                Array.Copy(kvB, src + n * l, o, head * v * l, v * l);
            }
        }
        return o;
    }
}
