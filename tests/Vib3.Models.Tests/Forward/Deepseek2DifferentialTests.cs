using Vib3.Core;
using Vib3.LlamaCpp;
using Vib3.Models.Inference;
using Vib3.Models.Retrieval;
using Vib3.Models.Tests.LlamaCpp;
using Vib3.Storage;
using Vib3.Storage.Catalog;
using Vib3.Synth;

namespace Vib3.Models.Tests.Forward;

/// <summary>deepseek2 (DeepSeek-V3 / Kimi K2) through vib3 against llama.cpp on the same GGUF, every position, both
/// MLA forms and each router variant, at the forward-pass tolerance (max |Δlogit| ≤ 1e-4 · max |logit|, f32); the
/// HF folder of the same weights gives vib3 the same logits; greedy decoding token by token matches llama.cpp's.</summary>
public sealed class Deepseek2DifferentialTests
{
    private static readonly SyntheticModelSpec Base = LlamaCppDeepseek2SemanticsTests.Base with { Seed = 13 };

    private static readonly Dictionary<string, SyntheticModelSpec> Specs = new()
    {
        ["k_b/v_b split"] = Base,
        ["kv_b unsplit"] = Base with { MlaSplit = false },
        ["groups and bias"] = Base with { ExpertGroups = 4, GroupsUsed = 2, TopK = 3 },
        ["groups, kv_b unsplit"] = Base with { ExpertGroups = 4, GroupsUsed = 2, TopK = 3, MlaSplit = false },
        ["sigmoid, no bias, scale 1"] = Base with { ScoreBias = false, RoutedScale = 1 },
        ["softmax, no bias, no renormalisation"] = Base with { SigmoidGating = false, ScoreBias = false, NormTopKProb = false },
        ["no q compression, no dense layer"] = Base with { QLoraRank = 0, LeadingDenseLayers = 0, Layers = 2 },
        ["two dense layers, two shared experts"] = Base with { LeadingDenseLayers = 2, Layers = 4, SharedExperts = 2 },
        ["yarn"] = Base with { YarnFactor = 4, MscaleAllDim = 1.0, YarnOriginalContext = 64 },
    };

    public static TheoryData<string> Cases => [.. Specs.Keys];

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Logits_match_llama_cpp_at_every_position(string name)
    {
        using var f = new ModelFixture(Specs[name], "gguf", pageRows: 16);
        var tokens = ModelFixture.Tokens(20, f.Spec.Vocab);
        float[][] expected;
        using (var llama = LlamaCppModel.Load(f.SourcePath))
            expected = llama.Logits(tokens);

        using var pass = await SequencePass.OpenAsync(f.Catalog, "m", new PageStoreOptions { RamBudgetBytes = 64 << 20 });
        LlamaCppDifferentialTests.AssertClose(expected, await pass.LogitsAsync(tokens, allPositions: true), name);
    }

    [Fact]
    public async Task Logits_match_llama_cpp_past_one_latent_tile()
    {
        // 300 positions: the weighted latent sums run over more than one tile of 256 positions, the prompt over 5 chunks.
        using var f = new ModelFixture(Base with { Context = 512 }, "gguf", pageRows: 16);
        var tokens = ModelFixture.Tokens(300, f.Spec.Vocab, seed: 8);
        float[][] expected;
        using (var llama = LlamaCppModel.Load(f.SourcePath, contextLength: 512))
            expected = llama.Logits(tokens);

        using var pass = await SequencePass.OpenAsync(f.Catalog, "m", new PageStoreOptions { RamBudgetBytes = 64 << 20 });
        LlamaCppDifferentialTests.AssertClose(expected, await pass.LogitsAsync(tokens, allPositions: true), "300 positions");
    }

    [Fact]
    public async Task Hf_folder_gives_the_gguf_logits()
    {
        var spec = Base with { YarnFactor = 4, MscaleAllDim = 1.0, YarnOriginalContext = 64, ExpertGroups = 4, GroupsUsed = 2, TopK = 3, MtpLayers = 1 };
        using var hf = new ModelFixture(spec, "hf");
        using var gguf = new ModelFixture(spec with { MlaSplit = true }, "gguf");
        Assert.Equal(1, hf.Manifest.Hyper.SkippedMtpLayers);
        var tokens = ModelFixture.Tokens(12, spec.Vocab, seed: 3);
        var options = new PageStoreOptions { RamBudgetBytes = 64 << 20 };
        using var a = await SequencePass.OpenAsync(hf.Catalog, "m", options);
        using var b = await SequencePass.OpenAsync(gguf.Catalog, "m", options);
        // The same f32 values in both stores (k_b transposed from kv_b at conversion is a permutation), the same arithmetic.
        Assert.Equal(await b.LogitsAsync(tokens, allPositions: true), await a.LogitsAsync(tokens, allPositions: true));
    }

    [Fact]
    public async Task Greedy_tokens_match_llama_cpp_decoding_one_token_at_a_time()
    {
        using var f = new ModelFixture(Specs["groups and bias"], "gguf");
        var prompt = ModelFixture.Tokens(6, f.Spec.Vocab, seed: 9);
        int[] expected;
        using (var llama = LlamaCppModel.Load(f.SourcePath))
            expected = llama.Greedy(prompt, 24);

        using var pass = await SequencePass.OpenAsync(f.Catalog, "m", new PageStoreOptions { RamBudgetBytes = 64 << 20 });
        Assert.Equal(expected, await pass.GreedyAsync(prompt, 24));
    }

    [Fact]
    public async Task An_f16_latent_cache_stays_close_to_the_f32_one()
    {
        using var f = new ModelFixture(Base, "gguf");
        var tokens = ModelFixture.Tokens(16, f.Spec.Vocab, seed: 4);
        var options = new PageStoreOptions { RamBudgetBytes = 64 << 20 };
        using var full = await SequencePass.OpenAsync(f.Catalog, "m", options);
        using var half = await SequencePass.OpenAsync(f.Catalog, "m", options, kvCache: KvCacheType.F16);
        var expected = await full.LogitsAsync(tokens, allPositions: true);
        var actual = await half.LogitsAsync(tokens, allPositions: true);
        LlamaCppDifferentialTests.AssertClose(expected, actual, "f16 cache", 1e-2f);
        Assert.NotEqual(expected[^1], actual[^1]); // the f16 path really ran
    }

    /// <summary>Key-only retrieval weights pages by the router's softmax, which the grouped router does not give: its
    /// program is refused for this family (the planner refuses the statement with the same reason), not for Mixtral.</summary>
    [Fact]
    public void A_key_only_retrieval_program_is_refused_for_the_grouped_router()
    {
        using var f = new ModelFixture(Base, "gguf");
        var e = Assert.Throws<Vib3Exception>(() => ForwardProgram.Build(f.Manifest, new RetrievalRouting(2)));
        Assert.Equal(SqlState.FeatureNotSupported, e.SqlState);
        Assert.Contains("(deepseek2): its router (sigmoid scores, selection bias, expert groups) has no weights for pages of other experts", e.Message);
        Assert.Equal(OperatorVariant.Grouped, ForwardProgram.Build(f.Manifest).Operators.First(o => o.Kind == OperatorKind.Router).Variant);
        using var mixtral = new ModelFixture(ModelFixture.Small(ModelFamily.Mixtral, DType.F32), "hf");
        Assert.Null(ForwardProgram.RetrievalRefusal(mixtral.Manifest));
    }

    /// <summary>Router-first retrieval takes the grouped router's own experts and weights: every page of them is the
    /// router bit for bit, half of them reads half the bytes (plus the keys) and departs from it less than random pages.</summary>
    [Fact]
    public async Task Router_first_retrieval_runs_inside_the_grouped_router_s_experts()
    {
        var spec = Base with { ExpertGroups = 4, GroupsUsed = 2, TopK = 3 };
        using var f = new ModelFixture(spec, "gguf", pageRows: 8);
        using var pass = await SequencePass.OpenAsync(f.Catalog, "m", new PageStoreOptions { RamBudgetBytes = 64 << 20 });
        var w = pass.Weights;
        var index = new PageIndex(await PageKeys.BuildAsync(w, PageKeyKind.MeanGate, PageKeyMetric.InnerProduct), w.ExpertGrids, "m")
            .WithNeurons(await NeuronKeys.BuildAsync(w, NeuronKeySpec.Default), w.ExpertGrids, "m");
        var tokens = ModelFixture.Tokens(25, spec.Vocab);
        var router = new ScoredRouting(ForwardProgram.Build(f.Manifest));
        Task<PerplexityResult> Run(ScoredRouting scored) => PerplexityEvaluation.RunAsync(pass.Forward, tokens, 12, 12, scored, router, KvCacheType.F32);
        ScoredRouting Inside(double budget) => new(ForwardProgram.Build(f.Manifest, new RetrievalRouting(0, Budget: budget)), index);

        var exact = await PerplexityEvaluation.RunAsync(pass.Forward, tokens, 12, 12, router, null, KvCacheType.F32);
        var all = await Run(Inside(1));
        Assert.Equal(exact.MeanNll, all.MeanNll);
        Assert.Equal(0, all.Kl);
        var half = await Run(Inside(0.5));
        var keys = w.ExpertGrids.Count * spec.TopK * index.Neurons!.Values.First().ExpertBytes;
        Assert.Equal(exact.ExpertBytesPerToken / 2 + keys, half.ExpertBytesPerToken, 1e-9);
        var random = await Run(new ScoredRouting(ForwardProgram.Build(f.Manifest, oracle: new PageOracle(0.5, Random: true))));
        Assert.True(0 < half.Kl && half.Kl < random.Kl, $"KL at half the pages: neuron keys {half.Kl}, random pages {random.Kl}");
    }

    [Fact]
    public async Task The_cache_holds_latents_not_keys_and_values()
    {
        using var f = new ModelFixture(Base, "gguf");
        using var pass = await SequencePass.OpenAsync(f.Catalog, "m", new PageStoreOptions { RamBudgetBytes = 64 << 20 }, contextLength: 64);
        var h = f.Manifest.Hyper;
        Assert.Equal(h.KvLoraRank + h.QkRopeHeadDim, pass.Cache.KvDim);
        Assert.Equal(0, pass.Cache.ValueDim);
        Assert.Equal((long)h.Layers * 64 * (h.KvLoraRank + h.QkRopeHeadDim) * sizeof(float), pass.Cache.Bytes);
    }
}
