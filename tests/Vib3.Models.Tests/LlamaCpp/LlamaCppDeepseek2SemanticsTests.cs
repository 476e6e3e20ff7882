using Vib3.Core;
using Vib3.LlamaCpp;
using Vib3.Synth;

namespace Vib3.Models.Tests.LlamaCpp;

/// <summary>Pins what llama.cpp computes for synthetic "deepseek2" (DeepSeek-V3 / Kimi K2) files by matching it
/// against <see cref="NaiveDeepseek2Reference"/> over each switch of the spec (MLA split or not, expert groups,
/// selection bias, sigmoid or softmax, q compression, leading dense layers, YaRN), and shows the router's and
/// YaRN's rules matter (dropping one misses by far more than rounding).</summary>
public sealed class LlamaCppDeepseek2SemanticsTests(LlamaCppSyntheticFiles files) : IClassFixture<LlamaCppSyntheticFiles>
{
    private static readonly int[] Tokens = [1, 5, 42, 300, 17, 260, 99, 3, 128, 7, 311, 64];
    private const float Match = 1e-4f, Miss = 1e-3f;

    /// <summary>The tiny deepseek2 every variant starts from (3 layers, the first dense; 8 experts top-2).</summary>
    internal static readonly SyntheticModelSpec Base = new()
    {
        Family = ModelFamily.Deepseek2, Layers = 3, Dim = 64, Heads = 4, ExpertHidden = 32, Experts = 8, TopK = 2,
        Vocab = 320, Context = 256, Seed = 7, RopeTheta = 10_000,
    };

    private static readonly Dictionary<string, SyntheticModelSpec> Specs = new()
    {
        ["defaults"] = Base,
        ["kv_b unsplit"] = Base with { MlaSplit = false },
        ["groups"] = Base with { ExpertGroups = 4, GroupsUsed = 2, TopK = 3 },
        ["groups, kv_b unsplit"] = Base with { ExpertGroups = 4, GroupsUsed = 2, TopK = 3, MlaSplit = false },
        ["sigmoid, no bias"] = Base with { ScoreBias = false },
        ["softmax, no bias, no renormalisation"] = Base with { SigmoidGating = false, ScoreBias = false, NormTopKProb = false },
        ["softmax with bias"] = Base with { SigmoidGating = false },
        ["no q compression, no dense layer"] = Base with { QLoraRank = 0, LeadingDenseLayers = 0, Layers = 2 },
        ["yarn"] = Base with { YarnFactor = 4, MscaleAllDim = 1.0, YarnOriginalContext = 64 },
        ["yarn, kv_b unsplit"] = Base with { YarnFactor = 4, MscaleAllDim = 1.0, YarnOriginalContext = 64, MlaSplit = false },
    };

    public static TheoryData<string> Cases => [.. Specs.Keys];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Llama_cpp_matches_the_naive_reference(string name)
    {
        var spec = Specs[name];
        var actual = Run(spec, name);
        var expected = NaiveDeepseek2Reference.Logits(spec, Tokens);
        var rel = RelDiff(expected, actual);
        Assert.True(rel < Match, $"{name}: max |Δlogit| / max |logit| = {rel}");
    }

    [Fact]
    public void Dropping_a_router_or_yarn_rule_misses()
    {
        var groups = Specs["groups"];
        var actual = Run(groups, "groups");
        Assert.True(RelDiff(NaiveDeepseek2Reference.Logits(groups, Tokens, NaiveDeepseek2Reference.Options.LlamaCpp with { SelectWithBias = false }), actual) > Miss,
            "the selection bias makes no difference");
        Assert.True(RelDiff(NaiveDeepseek2Reference.Logits(groups, Tokens, NaiveDeepseek2Reference.Options.LlamaCpp with { LimitGroups = false }), actual) > Miss,
            "the group limit makes no difference");

        var yarn = Specs["yarn"];
        Assert.True(RelDiff(NaiveDeepseek2Reference.Logits(yarn, Tokens, NaiveDeepseek2Reference.Options.LlamaCpp with { YarnKqScale = false }), Run(yarn, "yarn")) > Miss,
            "YaRN's mscale² on the attention scale makes no difference");
        Assert.True(RelDiff(NaiveDeepseek2Reference.Logits(yarn with { YarnFactor = 0 }, Tokens), Run(yarn, "yarn")) > Miss,
            "YaRN's rope makes no difference");
    }

    [Fact]
    public void Without_shared_experts_llama_cpp_refuses_the_file()
    {
        // llama.cpp's deepseek2 loader creates ffn_*_shexp unconditionally in every MoE layer, so a model
        // without shared experts (which the converter would write without those tensors) does not load.
        var spec = Base with { SharedExperts = 0 };
        var file = Path.Combine(files.Folder, "deepseek2-no-shared.gguf");
        Directory.CreateDirectory(files.Folder);
        SyntheticModelGenerator.WriteGguf(spec, file);
        var e = Assert.Throws<InvalidOperationException>(() => LlamaCppModel.Load(file));
        Assert.Contains("shexp", e.Message);
    }

    [Fact]
    public void Gguf_tensors_hold_the_hf_values_with_kv_b_split_as_the_converter_does()
    {
        var spec = Base;
        int h = spec.Heads, n = spec.QkNopeHeadDim, v = spec.VHeadDim, l = spec.KvLoraRank;
        var kvB = SyntheticModelGenerator.Values(spec, "model.layers.1.self_attn.kv_b_proj.weight");   // [H·(N+V), L]
        var kB = Decode(spec, "blk.1.attn_k_b.weight");                                               // [H, L, N]
        var vB = Decode(spec, "blk.1.attn_v_b.weight");                                               // [H, V, L]
        for (var head = 0; head < h; head++)
            for (var c = 0; c < l; c++)
            {
                for (var r = 0; r < n; r++) Assert.Equal(kvB[(head * (n + v) + r) * l + c], kB[(head * l + c) * n + r]);
                for (var r = 0; r < v; r++) Assert.Equal(kvB[(head * (n + v) + n + r) * l + c], vB[(head * v + r) * l + c]);
            }

        Assert.Equal(SyntheticModelGenerator.Values(spec, "model.layers.0.self_attn.q_a_proj.weight"), Decode(spec, "blk.0.attn_q_a.weight"));
        Assert.Equal(SyntheticModelGenerator.Values(spec, "model.layers.2.mlp.gate.e_score_correction_bias"), Decode(spec, "blk.2.exp_probs_b.bias"));
        var stacked = Decode(spec, "blk.1.ffn_down_exps.weight");                                      // [X, d, Fe]
        var expert5 = SyntheticModelGenerator.Values(spec, "model.layers.1.mlp.experts.5.down_proj.weight");
        Assert.Equal(expert5, stacked.AsSpan(5 * expert5.Length, expert5.Length).ToArray());
        var unsplit = spec with { MlaSplit = false };
        Assert.Equal(kvB, Decode(unsplit, "blk.1.attn_kv_b.weight"));
    }

    private static float[] Decode(SyntheticModelSpec spec, string ggufName)
    {
        var bytes = SyntheticModelGenerator.GgufBytes(spec, ggufName);
        var values = new float[bytes.Length / 4];
        DTypeConvert.ToF32(DType.F32, bytes, values);
        return values;
    }

    private float[][] Run(SyntheticModelSpec spec, string name)
    {
        var file = Path.Combine(files.Folder, "deepseek2-" + string.Concat(name.Select(c => char.IsLetterOrDigit(c) ? c : '-')) + ".gguf");
        Directory.CreateDirectory(files.Folder);
        if (!File.Exists(file)) SyntheticModelGenerator.WriteGguf(spec, file);
        using var model = LlamaCppModel.Load(file);
        return model.Logits(Tokens);
    }

    /// <summary>Largest |Δlogit| over all positions relative to the largest |logit| of the reference.</summary>
    private static float RelDiff(float[][] expected, float[][] actual)
    {
        var scale = expected.Max(r => r.Max(MathF.Abs));
        return expected.Zip(actual, (x, y) => x.Zip(y, (p, q) => Math.Abs(p - q)).Max()).Max() / scale;
    }
}
