using Vib3.Core;
using Vib3.Models.Inference;
using Vib3.Models.Retrieval;
using Vib3.Storage;
using Vib3.Storage.Catalog;
using Vib3.Synth;

namespace Vib3.Models.Tests.Retrieval;

/// <summary>Router-first retrieval (<see cref="RetrievalRouting.RouterFirst"/>) on a model of twelve pages an expert:
/// every page is the router bit for bit; a budget reads that share of the pages plus the neuron keys; a larger mass
/// departs less; at the same share the keys come closer to the page oracle than to random pages; no neuron keys is a
/// clean refusal.</summary>
public sealed class RouterFirstRetrievalTests
{
    [Fact]
    public async Task It_reads_the_pages_the_neuron_keys_rank_first_inside_the_router_s_experts()
    {
        using var f = new ModelFixture(ModelFixture.Small(ModelFamily.Mixtral, DType.F32), "hf", pageRows: 8);
        Assert.All(f.Manifest.ExpertGrids, g => Assert.Equal(12, g.BundlesPerExpert));
        using var pass = await SequencePass.OpenAsync(f.Catalog, "m", new PageStoreOptions { RamBudgetBytes = 64 << 20 });
        var w = pass.Weights;
        var pageKeys = await PageKeys.BuildAsync(w, PageKeyKind.MeanGate, PageKeyMetric.InnerProduct);
        var neurons = await NeuronKeys.BuildAsync(w, NeuronKeySpec.Default);
        var index = new PageIndex(pageKeys, w.ExpertGrids, "m").WithNeurons(neurons, w.ExpertGrids, "m");
        var tokens = ModelFixture.Tokens(33, f.Spec.Vocab);
        var router = new ScoredRouting(ForwardProgram.Build(f.Manifest));
        Task<PerplexityResult> Inside(double mass = 0, double budget = 0, int k = 0) => PerplexityEvaluation.RunAsync(pass.Forward, tokens, 16, 16,
            new ScoredRouting(ForwardProgram.Build(f.Manifest, new RetrievalRouting(k, Mass: mass, Budget: budget)), index), router, KvCacheType.F32);

        var exact = await PerplexityEvaluation.RunAsync(pass.Forward, tokens, 16, 16, router, null, KvCacheType.F32);
        // Keys a token scores: its top-2 experts' 96 neurons in each of the 2 layers, q4_0 gate and up rows of 64 values
        // (36 bytes each) and a weight each.
        const double keyBytes = 2 * 2 * 96 * (2 * 36 + 4);
        var all = await Inside(budget: 1);
        Assert.Equal(exact.MeanNll, all.MeanNll);
        Assert.Equal(0, all.Kl);
        Assert.Equal(exact.ExpertBytesPerToken + keyBytes, all.ExpertBytesPerToken, 1e-9);

        var half = await Inside(budget: 0.5);
        Assert.Equal(exact.ExpertBytesPerToken / 2 + keyBytes, half.ExpertBytesPerToken, 1e-9);
        var capped = await Inside(budget: 0.5, k: 6); // 6 of 24 pages
        Assert.Equal(exact.ExpertBytesPerToken / 4 + keyBytes, capped.ExpertBytesPerToken, 1e-9);

        var loose = await Inside(mass: 0.5);
        var tight = await Inside(mass: 0.95);
        Assert.True(tight.Kl < loose.Kl, $"KL at mass 0.95 {tight.Kl}, at 0.5 {loose.Kl}");
        Assert.True(tight.ExpertBytesPerToken > loose.ExpertBytesPerToken, $"bytes at mass 0.95 {tight.ExpertBytesPerToken}, at 0.5 {loose.ExpertBytesPerToken}");

        var random = await PerplexityEvaluation.RunAsync(pass.Forward, tokens, 16, 16,
            new ScoredRouting(ForwardProgram.Build(f.Manifest, oracle: new PageOracle(0.5, Random: true))), router, KvCacheType.F32);
        var oracle = await PerplexityEvaluation.RunAsync(pass.Forward, tokens, 16, 16,
            new ScoredRouting(ForwardProgram.Build(f.Manifest, oracle: new PageOracle(0.5))), router, KvCacheType.F32);
        // The keys close more than half the gap between random pages and the oracle's hindsight at the same share.
        Assert.True(half.Kl < (oracle.Kl + random.Kl) / 2, $"KL at half the pages: neuron keys {half.Kl}, random pages {random.Kl}, oracle {oracle.Kl}");
    }

    [Fact]
    public async Task Without_neuron_keys_it_is_refused_with_one_line()
    {
        using var f = new ModelFixture(ModelFixture.Small(ModelFamily.Mixtral, DType.F32), "hf", pageRows: 8);
        using var pass = await SequencePass.OpenAsync(f.Catalog, "m", new PageStoreOptions { RamBudgetBytes = 64 << 20 });
        var index = new PageIndex(await PageKeys.BuildAsync(pass.Weights, PageKeyKind.MeanGate, PageKeyMetric.InnerProduct), pass.Weights.ExpertGrids, "m");
        var e = await Assert.ThrowsAsync<Vib3Exception>(() => pass.Forward.DecodeAsync(5, pass.Cache, new RetrievalRouting(0, Budget: 0.5), index).AsTask());
        Assert.Equal(SqlState.FeatureNotSupported, e.SqlState);
        Assert.Equal("router-first USING RETRIEVAL needs neuron keys, and the index of model 'm' has none: run CREATE INDEX ON MODEL m again", e.Message);
    }
}
