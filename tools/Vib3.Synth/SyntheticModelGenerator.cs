using System.Text.Json;
using Vib3.Core;

namespace Vib3.Synth;

/// <summary>Deterministic random-weight MoE checkpoints. Every tensor's values come from a generator seeded by
/// the model seed and the tensor's HF name, so the HF folder and the GGUF file of one spec hold the same
/// weights; the GGUF is laid out as llama.cpp's convert_hf_to_gguf.py lays it out (names, stacked experts,
/// llama Q/K permutation, DeepSeek's kv_b_proj split into k_b/v_b, F32 norms/biases/routers).</summary>
public static class SyntheticModelGenerator
{
    private const float MatrixRange = 0.0346f; // uniform(-a, a) with a = 0.02·√3 has std 0.02

    public static string HfArchitecture(ModelFamily f) => f switch
    {
        ModelFamily.Mixtral => "MixtralForCausalLM",
        ModelFamily.Qwen2Moe => "Qwen2MoeForCausalLM",
        ModelFamily.Qwen3Moe => "Qwen3MoeForCausalLM",
        ModelFamily.Olmoe => "OlmoeForCausalLM",
        ModelFamily.Deepseek2 => "DeepseekV3ForCausalLM",
        _ => throw new ArgumentOutOfRangeException(nameof(f), f, null),
    };

    public static string HfModelType(ModelFamily f) => f switch
    {
        ModelFamily.Mixtral => "mixtral",
        ModelFamily.Qwen2Moe => "qwen2_moe",
        ModelFamily.Qwen3Moe => "qwen3_moe",
        ModelFamily.Olmoe => "olmoe",
        ModelFamily.Deepseek2 => "deepseek_v3",
        _ => throw new ArgumentOutOfRangeException(nameof(f), f, null),
    };

    public static string GgufArchitecture(ModelFamily f) => f switch
    {
        ModelFamily.Mixtral => "llama",
        ModelFamily.Qwen2Moe => "qwen2moe",
        ModelFamily.Qwen3Moe => "qwen3moe",
        ModelFamily.Olmoe => "olmoe",
        ModelFamily.Deepseek2 => "deepseek2",
        _ => throw new ArgumentOutOfRangeException(nameof(f), f, null),
    };

    public static ModelFamily ParseFamily(string s) => s.Trim().ToLowerInvariant().Replace("_", "").Replace("-", "") switch
    {
        "mixtral" => ModelFamily.Mixtral,
        "qwen2moe" => ModelFamily.Qwen2Moe,
        "qwen3moe" => ModelFamily.Qwen3Moe,
        "olmoe" => ModelFamily.Olmoe,
        "deepseek2" or "deepseekv3" or "kimi" => ModelFamily.Deepseek2,
        _ => throw new Vib3Exception(SqlState.FeatureNotSupported,
            $"unknown model family '{s}' (supported: mixtral, qwen2moe, qwen3moe, olmoe, deepseek2)"),
    };

    /// <summary>The dense intermediate_size written to config.json / feed_forward_length.</summary>
    public static int DenseIntermediate(SyntheticModelSpec s) => s.Family switch
    {
        ModelFamily.Qwen2Moe => s.SharedExpertHidden,
        ModelFamily.Qwen3Moe => s.ExpertHidden * s.TopK,
        ModelFamily.Deepseek2 => s.DenseHidden,
        _ => s.ExpertHidden,
    };

    // ---------------------------------------------------------------- listings

    /// <summary>HF tensors in file order.</summary>
    public static IReadOnlyList<SyntheticTensor> HfTensors(SyntheticModelSpec s)
    {
        s.Validate();
        if (s.Family == ModelFamily.Deepseek2) return Deepseek2Layout.HfTensors(s);
        long d = s.Dim, ff = s.ExpertHidden, qDim = (long)s.Heads * s.HeadDim, kvDim = (long)s.KvHeads * s.HeadDim;
        var list = new List<SyntheticTensor>();
        void Add(string n, SyntheticTensorKind k, params long[] shape) => list.Add(new SyntheticTensor(n, shape, k));
        const SyntheticTensorKind M = SyntheticTensorKind.Matrix, N = SyntheticTensorKind.Norm,
            B = SyntheticTensorKind.Bias, R = SyntheticTensorKind.Router;

        Add("model.embed_tokens.weight", M, s.Vocab, d);
        for (var l = 0; l < s.Layers; l++)
        {
            var p = $"model.layers.{l}.";
            Add(p + "input_layernorm.weight", N, d);
            Add(p + "self_attn.q_proj.weight", M, qDim, d);
            Add(p + "self_attn.k_proj.weight", M, kvDim, d);
            Add(p + "self_attn.v_proj.weight", M, kvDim, d);
            if (s.Family == ModelFamily.Qwen2Moe)
            {
                Add(p + "self_attn.q_proj.bias", B, qDim);
                Add(p + "self_attn.k_proj.bias", B, kvDim);
                Add(p + "self_attn.v_proj.bias", B, kvDim);
            }
            Add(p + "self_attn.o_proj.weight", M, d, qDim);
            if (s.Family == ModelFamily.Qwen3Moe)
            {
                Add(p + "self_attn.q_norm.weight", N, s.HeadDim);
                Add(p + "self_attn.k_norm.weight", N, s.HeadDim);
            }
            else if (s.Family == ModelFamily.Olmoe)
            {
                Add(p + "self_attn.q_norm.weight", N, qDim);
                Add(p + "self_attn.k_norm.weight", N, kvDim);
            }
            Add(p + "post_attention_layernorm.weight", N, d);
            if (s.Family == ModelFamily.Mixtral)
            {
                Add(p + "block_sparse_moe.gate.weight", R, s.Experts, d);
                for (var e = 0; e < s.Experts; e++)
                {
                    var x = p + $"block_sparse_moe.experts.{e}.";
                    Add(x + "w1.weight", M, ff, d);
                    Add(x + "w2.weight", M, d, ff);
                    Add(x + "w3.weight", M, ff, d);
                }
            }
            else
            {
                Add(p + "mlp.gate.weight", R, s.Experts, d);
                for (var e = 0; e < s.Experts; e++)
                {
                    var x = p + $"mlp.experts.{e}.";
                    Add(x + "gate_proj.weight", M, ff, d);
                    Add(x + "up_proj.weight", M, ff, d);
                    Add(x + "down_proj.weight", M, d, ff);
                }
                if (s.Family == ModelFamily.Qwen2Moe)
                {
                    long sff = s.SharedExpertHidden;
                    Add(p + "mlp.shared_expert.gate_proj.weight", M, sff, d);
                    Add(p + "mlp.shared_expert.up_proj.weight", M, sff, d);
                    Add(p + "mlp.shared_expert.down_proj.weight", M, d, sff);
                    Add(p + "mlp.shared_expert_gate.weight", M, 1, d);
                }
            }
        }
        Add("model.norm.weight", N, d);
        Add("lm_head.weight", M, s.Vocab, d);
        return list;
    }

    /// <summary>GGUF tensors in file order, each with the HF tensors it is made from.</summary>
    public static IReadOnlyList<SyntheticGgufTensor> GgufTensors(SyntheticModelSpec s)
    {
        var hf = HfTensors(s).ToDictionary(t => t.Name, StringComparer.Ordinal);
        if (s.Family == ModelFamily.Deepseek2) return Deepseek2Layout.GgufTensors(s, hf);
        var list = new List<SyntheticGgufTensor>();
        var llama = s.Family == ModelFamily.Mixtral;

        void Copy(string gguf, string hfName, int permuteHeads = 0, bool alwaysF32 = false)
        {
            var t = hf[hfName];
            var dtype = alwaysF32 ? DType.F32 : GgufDType(s, t.Kind, t.Shape);
            list.Add(new SyntheticGgufTensor(gguf, t.Shape, dtype, t.Kind, [hfName], permuteHeads));
        }
        void Stack(string gguf, IReadOnlyList<string> sources)
        {
            var t = hf[sources[0]];
            long[] shape = [sources.Count, .. t.Shape];
            list.Add(new SyntheticGgufTensor(gguf, shape, GgufDType(s, t.Kind, shape), t.Kind, sources, 0));
        }

        Copy("token_embd.weight", "model.embed_tokens.weight");
        for (var l = 0; l < s.Layers; l++)
        {
            var p = $"model.layers.{l}.";
            var b = $"blk.{l}.";
            Copy(b + "attn_norm.weight", p + "input_layernorm.weight");
            Copy(b + "attn_q.weight", p + "self_attn.q_proj.weight", llama ? s.Heads : 0);
            Copy(b + "attn_k.weight", p + "self_attn.k_proj.weight", llama ? s.KvHeads : 0);
            Copy(b + "attn_v.weight", p + "self_attn.v_proj.weight");
            if (s.Family == ModelFamily.Qwen2Moe)
            {
                Copy(b + "attn_q.bias", p + "self_attn.q_proj.bias");
                Copy(b + "attn_k.bias", p + "self_attn.k_proj.bias");
                Copy(b + "attn_v.bias", p + "self_attn.v_proj.bias");
            }
            Copy(b + "attn_output.weight", p + "self_attn.o_proj.weight");
            if (s.Family is ModelFamily.Qwen3Moe or ModelFamily.Olmoe)
            {
                Copy(b + "attn_q_norm.weight", p + "self_attn.q_norm.weight");
                Copy(b + "attn_k_norm.weight", p + "self_attn.k_norm.weight");
            }
            Copy(b + "ffn_norm.weight", p + "post_attention_layernorm.weight");
            var experts = Enumerable.Range(0, s.Experts);
            if (llama)
            {
                var x = p + "block_sparse_moe.";
                Copy(b + "ffn_gate_inp.weight", x + "gate.weight");
                Stack(b + "ffn_gate_exps.weight", experts.Select(e => $"{x}experts.{e}.w1.weight").ToList());
                Stack(b + "ffn_down_exps.weight", experts.Select(e => $"{x}experts.{e}.w2.weight").ToList());
                Stack(b + "ffn_up_exps.weight", experts.Select(e => $"{x}experts.{e}.w3.weight").ToList());
            }
            else
            {
                var x = p + "mlp.";
                Copy(b + "ffn_gate_inp.weight", x + "gate.weight");
                Stack(b + "ffn_gate_exps.weight", experts.Select(e => $"{x}experts.{e}.gate_proj.weight").ToList());
                Stack(b + "ffn_up_exps.weight", experts.Select(e => $"{x}experts.{e}.up_proj.weight").ToList());
                Stack(b + "ffn_down_exps.weight", experts.Select(e => $"{x}experts.{e}.down_proj.weight").ToList());
                if (s.Family == ModelFamily.Qwen2Moe)
                {
                    // convert_hf_to_gguf.py keeps FFN_GATE_INP_SHEXP in f32 whatever the output type, like the
                    // router; its [1, dim] shape stays 2-D (ne = [dim, 1]), which llama.cpp accepts as {n_embd}.
                    Copy(b + "ffn_gate_inp_shexp.weight", x + "shared_expert_gate.weight", alwaysF32: true);
                    Copy(b + "ffn_gate_shexp.weight", x + "shared_expert.gate_proj.weight");
                    Copy(b + "ffn_up_shexp.weight", x + "shared_expert.up_proj.weight");
                    Copy(b + "ffn_down_shexp.weight", x + "shared_expert.down_proj.weight");
                }
            }
        }
        Copy("output_norm.weight", "model.norm.weight");
        Copy("output.weight", "lm_head.weight");
        return list;
    }

    /// <summary>The stored type llama.cpp's converter would choose: F32 for 1-D tensors, norms, biases and the
    /// router (Qwen2-MoE's shared-expert gate is also kept F32, see <see cref="GgufTensors"/>); Q8_0 falls back to F16 when a row is not a whole number of blocks.</summary>
    public static DType GgufDType(SyntheticModelSpec s, SyntheticTensorKind kind, long[] shape)
    {
        if (shape.Length <= 1 || kind != SyntheticTensorKind.Matrix) return DType.F32;
        if (s.DType == DType.Q8_0 && shape[^1] % DTypes.Q8BlockSize != 0) return DType.F16;
        return s.DType;
    }

    // ---------------------------------------------------------------- values

    /// <summary>The values of one HF tensor as f32, already rounded to the spec's precision (F16/BF16; a float8
    /// weight's: code · scale), so F32 copies in the GGUF hold exactly what the HF file holds.</summary>
    public static float[] Values(SyntheticModelSpec s, string hfName)
    {
        var t = HfTensors(s).FirstOrDefault(x => x.Name == hfName)
            ?? throw new ArgumentException($"no tensor '{hfName}' in a {s.Family} model", nameof(hfName));
        return Values(s, t);
    }

    public static float[] Values(SyntheticModelSpec s, SyntheticTensor t)
    {
        var v = RawValues(s, t);
        if (IsFloat8(s, t)) return Fp8Blocks.Dequantised(v, t.Shape[0], t.Shape[1], s.Fp8BlockSize);
        if (s.DType is DType.F16 or DType.BF16)
        {
            var tmp = new byte[s.DType.ByteCount(v.Length)];
            DTypeConvert.FromF32(s.DType, v, tmp);
            DTypeConvert.ToF32(s.DType, tmp, v);
        }
        return v;
    }

    /// <summary>Bytes of an HF tensor's values stored as <paramref name="target"/>.</summary>
    private static byte[] EncodeAs(SyntheticModelSpec s, SyntheticTensor t, DType target) => Encode(target, ValuesFor(s, t, target));

    /// <summary>The values to encode as <paramref name="target"/>. Rounding to f16/bf16 is idempotent, so when the target
    /// is the spec's own type the unrounded values encode to the same bytes and the extra round trip is skipped; float8
    /// weights always pass through their quantisation.</summary>
    private static float[] ValuesFor(SyntheticModelSpec s, SyntheticTensor t, DType target) =>
        target == s.DType && !IsFloat8(s, t) ? RawValues(s, t) : Values(s, t);

    /// <summary>Whether the HF folder stores <paramref name="t"/> as block-scaled float8: with <see cref="SyntheticModelSpec.Fp8BlockSize"/>
    /// set, every decoder-layer linear weight, as in DeepSeek-V3's checkpoint (the MTP layers' own embedding and head
    /// stay unquantised like the model's).</summary>
    public static bool IsFloat8(SyntheticModelSpec s, SyntheticTensor t) =>
        s.Fp8BlockSize > 0 && t.Kind == SyntheticTensorKind.Matrix && t.Shape.Length == 2
        && t.Name.StartsWith("model.layers.", StringComparison.Ordinal)
        && !t.Name.EndsWith(".embed_tokens.weight", StringComparison.Ordinal)
        && !t.Name.EndsWith(".shared_head.head.weight", StringComparison.Ordinal);

    private static float[] RawValues(SyntheticModelSpec s, SyntheticTensor t)
    {
        var rng = SynthRandom.ForTensor(s.Seed, t.Name);
        var v = new float[checked((int)t.ElementCount)];
        switch (t.Kind)
        {
            case SyntheticTensorKind.Norm:
                for (var i = 0; i < v.Length; i++) v[i] = 1f + rng.NextSymmetric(0.05f);
                break;
            case SyntheticTensorKind.Bias:
                for (var i = 0; i < v.Length; i++) v[i] = rng.NextSymmetric(0.01f);
                break;
            case SyntheticTensorKind.ScoreBias:
                for (var i = 0; i < v.Length; i++) v[i] = rng.NextSymmetric(0.3f);
                break;
            case SyntheticTensorKind.Router:
                var a = 1f / MathF.Sqrt(s.Dim);
                for (var i = 0; i < v.Length; i++) v[i] = rng.NextSymmetric(a);
                break;
            default:
                var range = t.Name == "model.embed_tokens.weight" ? MatrixRange * s.EmbeddingScale : MatrixRange;
                for (var i = 0; i < v.Length; i++) v[i] = rng.NextSymmetric(range);
                break;
        }
        return v;
    }

    public static byte[] Encode(DType t, ReadOnlySpan<float> values)
    {
        var bytes = new byte[t.ByteCount(values.Length)];
        DTypeConvert.FromF32(t, values, bytes);
        return bytes;
    }

    /// <summary>The exact bytes of an HF tensor (spec.DType must be F32, F16 or BF16; not for float8 weights, whose
    /// file holds codes and a scale grid).</summary>
    public static byte[] HfBytes(SyntheticModelSpec s, string hfName)
    {
        var t = HfTensors(s).First(x => x.Name == hfName);
        if (IsFloat8(s, t)) throw new ArgumentException($"'{hfName}' is stored as float8 codes with a scale grid", nameof(hfName));
        return Encode(HfDType(s), Values(s, t));
    }


    public static DType HfDType(SyntheticModelSpec s) => s.DType != DType.Q8_0
        ? s.DType
        : throw new Vib3Exception(SqlState.FeatureNotSupported, "HF checkpoints hold f32, f16 or bf16; q8_0 exists only in GGUF");

    /// <summary>The exact bytes of a GGUF tensor.</summary>
    public static byte[] GgufBytes(SyntheticModelSpec s, string ggufName)
    {
        var t = GgufTensors(s).FirstOrDefault(x => x.Name == ggufName)
            ?? throw new ArgumentException($"no GGUF tensor '{ggufName}' in a {s.Family} model", nameof(ggufName));
        using var ms = new MemoryStream();
        WriteGgufTensor(s, t, HfTensors(s).ToDictionary(x => x.Name, StringComparer.Ordinal), ms);
        return ms.ToArray();
    }

    private static void WriteGgufTensor(SyntheticModelSpec s, SyntheticGgufTensor t,
        IReadOnlyDictionary<string, SyntheticTensor> hf, Stream output)
    {
        // Stacked experts are independent draws, so a batch of them is generated and encoded in parallel and
        // written in order: at most one batch (one expert per core) is held at a time.
        var batch = Math.Max(1, Environment.ProcessorCount);
        var encoded = new byte[Math.Min(batch, t.Sources.Count)][];
        for (var start = 0; start < t.Sources.Count; start += batch)
        {
            var count = Math.Min(batch, t.Sources.Count - start);
            Parallel.For(0, count, i => encoded[i] = EncodeGgufSource(s, t, hf[t.Sources[start + i]]));
            for (var i = 0; i < count; i++)
            {
                output.Write(encoded[i]);
                encoded[i] = [];
            }
        }
    }

    private static byte[] EncodeGgufSource(SyntheticModelSpec s, SyntheticGgufTensor t, SyntheticTensor h)
    {
        var v = ValuesFor(s, h, t.DType);
        if (t.Part != KvBPart.None) v = Deepseek2Layout.SplitKvB(s, v, t.Part);
        if (t.PermuteHeads > 0)
        {
            var p = new float[v.Length];
            LlamaQkPermutation.Permute<float>(v, p, (int)h.Shape[0], (int)h.Shape[1], t.PermuteHeads);
            v = p;
        }
        return Encode(t.DType, v);
    }

    // ---------------------------------------------------------------- writers

    /// <summary>Writes an HF folder: safetensors (sharded when spec.Shards &gt; 1), config.json,
    /// tokenizer.json, tokenizer_config.json, generation_config.json. Returns the files written.</summary>
    public static IReadOnlyList<string> WriteHf(SyntheticModelSpec s, string folder)
    {
        var tensors = HfTensors(s);
        var dtype = HfDType(s);
        Directory.CreateDirectory(folder);
        foreach (var stale in Directory.EnumerateFiles(folder, "model*.safetensors*"))
            File.Delete(stale);
        var w = new SafetensorsWriter();
        w.AddMetadata("generator", "vib3-synth");
        foreach (var t in tensors)
        {
            if (IsFloat8(s, t))
                AddFloat8(s, t, w);
            else
                w.Add(t.Name, dtype, t.Shape, stream => stream.Write(EncodeAs(s, t, dtype)));
        }
        var files = w.Write(folder, s.Shards).ToList();
        var tok = SyntheticTokenizer.Build(s.Vocab);
        files.Add(WriteText(folder, "config.json", ConfigJson(s)));
        files.Add(WriteText(folder, "tokenizer.json", tok.ToTokenizerJson()));
        files.Add(WriteText(folder, "tokenizer_config.json", tok.ToTokenizerConfigJson(s.Context)));
        files.Add(WriteText(folder, "generation_config.json",
            $"{{\n  \"bos_token_id\": {SyntheticTokenizer.BosId},\n  \"eos_token_id\": {SyntheticTokenizer.EosId}\n}}\n"));
        return files;
    }

    /// <summary>A float8 weight and, right after it as in DeepSeek-V3's shards, its f32 scale grid "X_scale_inv".</summary>
    private static void AddFloat8(SyntheticModelSpec s, SyntheticTensor t, SafetensorsWriter w)
    {
        long rows = t.Shape[0], cols = t.Shape[1];
        var b = s.Fp8BlockSize;
        w.AddFloat8(t.Name, t.Shape, stream =>
        {
            var v = RawValues(s, t);
            stream.Write(Fp8Blocks.Codes(v, Fp8Blocks.Scales(v, rows, cols, b), rows, cols, b));
        });
        w.Add(t.Name + "_scale_inv", DType.F32, [(rows + b - 1) / b, (cols + b - 1) / b],
            stream => stream.Write(Encode(DType.F32, Fp8Blocks.Scales(RawValues(s, t), rows, cols, b))));
    }

    private static string WriteText(string folder, string name, string text)
    {
        var path = Path.Combine(folder, name);
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>Writes a GGUF v3 file with llama.cpp's metadata keys, tokenizer and tensor layout.</summary>
    public static void WriteGguf(SyntheticModelSpec s, string file)
    {
        var tensors = GgufTensors(s);
        var hf = HfTensors(s).ToDictionary(x => x.Name, StringComparer.Ordinal);
        var w = new GgufWriter();
        AddGgufHyperparameters(s, w, $"vib3-synth-{s.Family.ToString().ToLowerInvariant()}");
        SyntheticTokenizer.Build(s.Vocab).AddToGguf(w, s.GgufPreTokenizer);
        foreach (var t in tensors)
            w.AddTensor(t.Name, t.DType, t.Shape, stream => WriteGgufTensor(s, t, hf, stream));
        w.Write(file);
    }

    /// <summary>The general.* and architecture keys llama.cpp reads for the spec's shape (no tokenizer, no
    /// tensors). Public so an exporter of real checkpoints (tools/Vib3.Export) writes the same keys.</summary>
    public static void AddGgufHyperparameters(SyntheticModelSpec s, GgufWriter w, string name)
    {
        var arch = GgufArchitecture(s.Family);
        w.AddString("general.architecture", arch);
        w.AddString("general.name", name);
        w.AddUInt32("general.file_type", s.DType switch
        {
            DType.F32 => 0u, DType.F16 => 1u, DType.Q8_0 => 7u, DType.BF16 => 32u,
            _ => throw new ArgumentOutOfRangeException(nameof(s)),
        });
        if (s.Family == ModelFamily.Deepseek2)
        {
            Deepseek2Metadata.AddGguf(s, w);
            return;
        }
        w.AddUInt32($"{arch}.vocab_size", (uint)s.Vocab);
        w.AddUInt32($"{arch}.context_length", (uint)s.Context);
        w.AddUInt32($"{arch}.embedding_length", (uint)s.Dim);
        w.AddUInt32($"{arch}.block_count", (uint)s.Layers);
        w.AddUInt32($"{arch}.feed_forward_length", (uint)DenseIntermediate(s));
        w.AddUInt32($"{arch}.attention.head_count", (uint)s.Heads);
        w.AddUInt32($"{arch}.attention.head_count_kv", (uint)s.KvHeads);
        w.AddFloat32($"{arch}.rope.freq_base", (float)s.RopeTheta);
        w.AddFloat32($"{arch}.attention.layer_norm_rms_epsilon", (float)s.NormEps);
        w.AddUInt32($"{arch}.expert_count", (uint)s.Experts);
        w.AddUInt32($"{arch}.expert_used_count", (uint)s.TopK);
        if (s.Family == ModelFamily.Mixtral)
            w.AddUInt32($"{arch}.rope.dimension_count", (uint)s.HeadDim);
        else
            w.AddUInt32($"{arch}.expert_feed_forward_length", (uint)s.ExpertHidden);
        if (s.Family == ModelFamily.Qwen2Moe)
            w.AddUInt32($"{arch}.expert_shared_feed_forward_length", (uint)s.SharedExpertHidden);
        if (s.Family == ModelFamily.Qwen3Moe || s.HeadDim != s.Dim / s.Heads)
        {
            w.AddUInt32($"{arch}.attention.key_length", (uint)s.HeadDim);
            w.AddUInt32($"{arch}.attention.value_length", (uint)s.HeadDim);
        }
    }

    /// <summary>config.json with the keys transformers uses for the family.</summary>
    public static string ConfigJson(SyntheticModelSpec s)
    {
        s.Validate();
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteStartArray("architectures");
            w.WriteStringValue(HfArchitecture(s.Family));
            w.WriteEndArray();
            w.WriteString("model_type", HfModelType(s.Family));
            w.WriteNumber("hidden_size", s.Dim);
            w.WriteNumber("intermediate_size", DenseIntermediate(s));
            w.WriteNumber("num_hidden_layers", s.Layers);
            w.WriteNumber("num_attention_heads", s.Heads);
            if (s.Family != ModelFamily.Deepseek2)
            {
                w.WriteNumber("num_key_value_heads", s.KvHeads);
                w.WriteNumber("head_dim", s.HeadDim);
            }
            switch (s.Family)
            {
                case ModelFamily.Mixtral:
                    w.WriteNumber("num_local_experts", s.Experts);
                    w.WriteNumber("num_experts_per_tok", s.TopK);
                    w.WriteNull("sliding_window");
                    w.WriteNumber("router_aux_loss_coef", 0.02);
                    break;
                case ModelFamily.Qwen2Moe:
                    w.WriteNumber("moe_intermediate_size", s.ExpertHidden);
                    w.WriteNumber("shared_expert_intermediate_size", s.SharedExpertHidden);
                    w.WriteNumber("num_experts", s.Experts);
                    w.WriteNumber("num_experts_per_tok", s.TopK);
                    w.WriteBoolean("norm_topk_prob", false);
                    w.WriteNumber("decoder_sparse_step", 1);
                    w.WriteStartArray("mlp_only_layers");
                    w.WriteEndArray();
                    w.WriteBoolean("use_sliding_window", false);
                    break;
                case ModelFamily.Qwen3Moe:
                    w.WriteNumber("moe_intermediate_size", s.ExpertHidden);
                    w.WriteNumber("num_experts", s.Experts);
                    w.WriteNumber("num_experts_per_tok", s.TopK);
                    w.WriteBoolean("norm_topk_prob", true);
                    w.WriteNumber("decoder_sparse_step", 1);
                    w.WriteStartArray("mlp_only_layers");
                    w.WriteEndArray();
                    w.WriteBoolean("attention_bias", false);
                    w.WriteBoolean("use_sliding_window", false);
                    break;
                case ModelFamily.Olmoe:
                    w.WriteNumber("num_experts", s.Experts);
                    w.WriteNumber("num_experts_per_tok", s.TopK);
                    w.WriteBoolean("norm_topk_prob", false);
                    w.WriteNull("clip_qkv");
                    w.WriteBoolean("attention_bias", false);
                    break;
                case ModelFamily.Deepseek2:
                    Deepseek2Metadata.WriteConfig(s, w);
                    break;
            }
            if (s.Fp8BlockSize > 0)
            {
                w.WriteStartObject("quantization_config"); // DeepSeek-V3's, block size aside
                w.WriteString("activation_scheme", "dynamic");
                w.WriteString("fmt", "e4m3");
                w.WriteString("quant_method", "fp8");
                w.WriteStartArray("weight_block_size");
                w.WriteNumberValue(s.Fp8BlockSize);
                w.WriteNumberValue(s.Fp8BlockSize);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteNumber("vocab_size", s.Vocab);
            w.WriteNumber("max_position_embeddings", s.Context);
            w.WriteNumber("rope_theta", s.RopeTheta);
            w.WriteNumber("rms_norm_eps", s.NormEps);
            w.WriteString("hidden_act", "silu");
            w.WriteNumber("initializer_range", 0.02);
            w.WriteNumber("attention_dropout", 0.0);
            w.WriteBoolean("tie_word_embeddings", false);
            w.WriteBoolean("use_cache", true);
            w.WriteNumber("bos_token_id", SyntheticTokenizer.BosId);
            w.WriteNumber("eos_token_id", SyntheticTokenizer.EosId);
            w.WriteString("torch_dtype", HfDType(s) switch
            {
                DType.F16 => "float16", DType.BF16 => "bfloat16", _ => "float32",
            });
            w.WriteString("transformers_version", "4.51.0");
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(ms.ToArray()) + "\n";
    }

}
