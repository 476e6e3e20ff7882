using Vib3.Core;
using Vib3.Models.Inference;
using Vib3.Models.Retrieval;
using Vib3.Storage;
using Vib3.Storage.Catalog;
using Vib3.Synth;

namespace Vib3.Models.Tests.Retrieval;

/// <summary>The router-aware options of <see cref="RetrievalRouting"/>: Candidates keeps only the pages of the router's
/// most probable experts, Prior adds Prior · ln p(expert) to a page's key score.</summary>
public sealed class RouterAwareRetrievalTests
{
    private static async Task<(ModelFixture Fixture, SequencePass Pass, PageIndex Index)> OpenAsync()
    {
        var spec = ModelFixture.Small(ModelFamily.Mixtral, DType.F32) with { ExpertHidden = 128 };
        var fixture = new ModelFixture(spec, "hf", null, 32); // 4 bundle pages per expert, 16 per layer
        var pass = await SequencePass.OpenAsync(fixture.Catalog, "m", new PageStoreOptions { RamBudgetBytes = 64 << 20 });
        var keys = await PageKeys.BuildAsync(pass.Weights, PageKeyKind.MeanGate, PageKeyMetric.InnerProduct);
        return (fixture, pass, new PageIndex(keys, pass.Weights.ExpertGrids, "m"));
    }

    [Fact]
    public async Task Every_page_of_the_top_k_experts_is_exact_routing()
    {
        var (fixture, pass, index) = await OpenAsync();
        using var _ = fixture;
        using var __ = pass;
        var h = pass.Weights.Manifest.Hyper;
        var bundles = pass.Weights.ExpertGrids.Values.First().BundlesPerExpert;
        var tokens = ModelFixture.Tokens(10, fixture.Spec.Vocab);
        var exact = new List<float[]>();
        foreach (var t in tokens) exact.Add((float[])(await pass.Forward.DecodeAsync(t, pass.Cache)).Clone());
        pass.Cache.Clear();
        var routing = new RetrievalRouting(h.TopK * bundles, Candidates: h.TopK);
        for (var i = 0; i < tokens.Length; i++)
        {
            var logits = await pass.Forward.DecodeAsync(tokens[i], pass.Cache, routing, index);
            for (var v = 0; v < logits.Length; v++)
                Assert.True(Math.Abs(exact[i][v] - logits[v]) < 1e-4f, $"position {i} logit {v}: {exact[i][v]} vs {logits[v]}");
        }
    }

    [Fact]
    public async Task Candidates_bound_the_experts_a_token_touches()
    {
        var (fixture, pass, index) = await OpenAsync();
        using var _ = fixture;
        using var __ = pass;
        var tokens = ModelFixture.Tokens(12, fixture.Spec.Vocab);
        foreach (var t in tokens) await pass.Forward.DecodeAsync(t, pass.Cache, new RetrievalRouting(6, Candidates: 1), index);
        var routing = pass.Forward.Routing;
        for (var l = 0; l < routing.Layers; l++) Assert.Equal(tokens.Length, routing.Decisions(l)); // one expert a token
    }

    [Fact]
    public async Task A_strong_prior_takes_the_router_top_expert_first()
    {
        var (fixture, pass, index) = await OpenAsync();
        using var _ = fixture;
        using var __ = pass;
        var bundles = pass.Weights.ExpertGrids.Values.First().BundlesPerExpert;
        var tokens = ModelFixture.Tokens(12, fixture.Spec.Vocab);
        // k = one expert's pages and a prior that outweighs any key score: exactly the router's top-1 expert.
        foreach (var t in tokens) await pass.Forward.DecodeAsync(t, pass.Cache, new RetrievalRouting(bundles, Prior: 1000), index);
        var routing = pass.Forward.Routing;
        for (var l = 0; l < routing.Layers; l++) Assert.Equal(tokens.Length, routing.Decisions(l));
        Assert.True(new RetrievalRouting(4, Prior: 0.5f).RouterAware);
        Assert.False(new RetrievalRouting(4).RouterAware);
    }
}
