using System.Text.Json;
using Vib3.Convert.Formats;
using Vib3.Core;
using Vib3.Synth;

namespace Vib3.Formats.Tests;

/// <summary>The synthetic DeepSeek-V3 / Kimi K2 checkpoint as files: the GGUF holds the HF folder's values in
/// llama.cpp's layout (kv_b_proj split per head into k_b transposed and v_b, experts stacked, MTP layers dropped),
/// and both carry the keys their readers look for.</summary>
public class Deepseek2LayoutTests
{
    private static SyntheticModelSpec Spec(bool mlaSplit) => new()
    {
        Family = ModelFamily.Deepseek2, Layers = 3, Dim = 64, Heads = 4, ExpertHidden = 32, Experts = 8, TopK = 2,
        ExpertGroups = 4, GroupsUsed = 2, Vocab = 300, Context = 256, Seed = 3, MlaSplit = mlaSplit, MtpLayers = 1,
        YarnFactor = 4, MscaleAllDim = 0.7, RopeTheta = 50_000,
    };

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Gguf_file_holds_the_hf_files_values_in_llama_cpps_layout(bool mlaSplit)
    {
        using var tmp = new TempFolder();
        var spec = Spec(mlaSplit);
        SyntheticModelGenerator.WriteHf(spec, tmp.Sub("hf"));
        SyntheticModelGenerator.WriteGguf(spec, tmp.Sub("m.gguf"));
        using var hf = CheckpointReader.Open(tmp.Sub("hf"));
        using var gg = CheckpointReader.Open(tmp.Sub("m.gguf"));
        float[] Hf(string name) => Specs.Decode(DType.F32, hf.ReadAll(name), hf.Tensors[name].ElementCount);
        float[] Gg(string name) => Specs.Decode(DType.F32, gg.ReadAll(name), gg.Tensors[name].ElementCount);

        int h = spec.Heads, n = spec.QkNopeHeadDim, v = spec.VHeadDim, l = spec.KvLoraRank;
        for (var layer = 0; layer < spec.Layers; layer++)
        {
            var kvB = Hf($"model.layers.{layer}.self_attn.kv_b_proj.weight");                 // [H·(N+V), L]
            if (!mlaSplit)
            {
                Assert.Equal(kvB, Gg($"blk.{layer}.attn_kv_b.weight"));
                Assert.False(gg.Tensors.ContainsKey($"blk.{layer}.attn_k_b.weight"));
                continue;
            }
            Assert.Equal([h, l, n], gg.Tensors[$"blk.{layer}.attn_k_b.weight"].Shape);
            Assert.Equal([h, v, l], gg.Tensors[$"blk.{layer}.attn_v_b.weight"].Shape);
            var kB = Gg($"blk.{layer}.attn_k_b.weight");
            var vB = Gg($"blk.{layer}.attn_v_b.weight");
            for (var head = 0; head < h; head++)
                for (var c = 0; c < l; c++)
                {
                    for (var r = 0; r < n; r++) Assert.Equal(kvB[(head * (n + v) + r) * l + c], kB[(head * l + c) * n + r]);
                    for (var r = 0; r < v; r++) Assert.Equal(kvB[(head * (n + v) + n + r) * l + c], vB[(head * v + r) * l + c]);
                }
        }

        Assert.Equal(Hf("model.layers.0.mlp.up_proj.weight"), Gg("blk.0.ffn_up.weight"));
        Assert.Equal(Hf("model.layers.2.mlp.gate.e_score_correction_bias"), Gg("blk.2.exp_probs_b.bias"));
        Assert.Equal(Hf("model.layers.1.mlp.shared_experts.down_proj.weight"), Gg("blk.1.ffn_down_shexp.weight"));
        var stacked = Gg("blk.1.ffn_gate_exps.weight");
        var expert3 = Hf("model.layers.1.mlp.experts.3.gate_proj.weight");
        Assert.Equal(expert3, stacked.AsSpan(3 * expert3.Length, expert3.Length).ToArray());
        Assert.False(gg.Tensors.ContainsKey("blk.0.ffn_gate_inp.weight"));          // the leading dense layer

        // The MTP layer is in the HF folder only.
        Assert.Equal([spec.Dim, 2L * spec.Dim], hf.Tensors[$"model.layers.{spec.Layers}.eh_proj.weight"].Shape);
        Assert.True(hf.Tensors.ContainsKey($"model.layers.{spec.Layers}.self_attn.kv_b_proj.weight"));
        Assert.DoesNotContain(gg.Tensors.Keys, k => k.StartsWith($"blk.{spec.Layers}.", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Config_and_gguf_metadata_use_the_keys_llama_cpp_and_transformers_read(bool mlaSplit)
    {
        using var tmp = new TempFolder();
        var spec = Spec(mlaSplit);
        SyntheticModelGenerator.WriteHf(spec, tmp.Sub("hf"));
        SyntheticModelGenerator.WriteGguf(spec, tmp.Sub("m.gguf"));

        using var config = JsonDocument.Parse(File.ReadAllText(tmp.Sub("hf/config.json")));
        var c = config.RootElement;
        Assert.Equal("DeepseekV3ForCausalLM", c.GetProperty("architectures")[0].GetString());
        Assert.Equal("deepseek_v3", c.GetProperty("model_type").GetString());
        Assert.Equal(spec.Heads, c.GetProperty("num_key_value_heads").GetInt32());
        Assert.Equal(spec.QLoraRank, c.GetProperty("q_lora_rank").GetInt32());
        Assert.Equal(spec.DenseHidden, c.GetProperty("intermediate_size").GetInt32());
        Assert.Equal(1, c.GetProperty("num_nextn_predict_layers").GetInt32());
        Assert.Equal("sigmoid", c.GetProperty("scoring_func").GetString());
        Assert.Equal("noaux_tc", c.GetProperty("topk_method").GetString());
        var rope = c.GetProperty("rope_scaling");
        Assert.Equal("yarn", rope.GetProperty("type").GetString());
        Assert.Equal(64, rope.GetProperty("original_max_position_embeddings").GetInt32());
        Assert.Equal(0.7, rope.GetProperty("mscale_all_dim").GetDouble());
        Assert.False(c.TryGetProperty("head_dim", out _)); // DeepSeek's config has none; the converter would write it as key_length

        using var g = GgufCheckpoint.Open(tmp.Sub("m.gguf"));
        Assert.Equal("deepseek2", g.Architecture);
        const string a = "deepseek2.";
        Assert.Equal((ulong)spec.Layers, g.GetUInt(a + "block_count"));
        Assert.Equal((ulong)spec.KvLoraRank, g.GetUInt(a + "attention.kv_lora_rank"));
        Assert.Equal((ulong)spec.QkRopeHeadDim, g.GetUInt(a + "rope.dimension_count"));
        Assert.Equal(2ul, g.GetUInt(a + "expert_gating_func"));
        Assert.Equal(4ul, g.GetUInt(a + "expert_group_count"));
        Assert.Equal(1ul, g.GetUInt(a + "leading_dense_block_count"));
        Assert.Equal("yarn", g.GetString(a + "rope.scaling.type"));
        Assert.Equal(0.07, g.GetFloat(a + "rope.scaling.yarn_log_multiplier"), 6);
        ulong nr = (ulong)(spec.QkNopeHeadDim + spec.QkRopeHeadDim);
        if (mlaSplit)
        {
            Assert.Equal(1ul, g.GetUInt(a + "attention.head_count_kv"));
            Assert.Equal((ulong)(spec.KvLoraRank + spec.QkRopeHeadDim), g.GetUInt(a + "attention.key_length"));
            Assert.Equal((ulong)spec.KvLoraRank, g.GetUInt(a + "attention.value_length"));
            Assert.Equal(nr, g.GetUInt(a + "attention.key_length_mla"));
            Assert.Equal((ulong)spec.VHeadDim, g.GetUInt(a + "attention.value_length_mla"));
        }
        else
        {
            Assert.Equal((ulong)spec.Heads, g.GetUInt(a + "attention.head_count_kv"));
            Assert.Equal(nr, g.GetUInt(a + "attention.key_length"));
            Assert.Equal((ulong)spec.VHeadDim, g.GetUInt(a + "attention.value_length"));
            Assert.False(g.TryGetUInt(a + "attention.key_length_mla", out _));
        }
    }
}
