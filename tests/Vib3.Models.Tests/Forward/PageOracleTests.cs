using Vib3.Core;
using Vib3.Models.Inference;
using Vib3.Storage;
using Vib3.Synth;

namespace Vib3.Models.Tests.Forward;

/// <summary>The page oracle (<see cref="PageOracle"/>) on a model of three pages an expert (six a row a layer under
/// top-2): keeping every page is the router, bit for bit; keeping a share reads that share of the bytes; keeping more
/// pages (a superset: the largest contributions first) departs less from the router, and the oracle departs far less
/// than the random control at the same bytes.</summary>
public sealed class PageOracleTests
{
    [Fact]
    public async Task It_keeps_the_share_of_each_row_s_pages_with_the_largest_contributions()
    {
        using var f = new ModelFixture(ModelFixture.Small(ModelFamily.Mixtral, DType.F32), "hf", pageRows: 32);
        Assert.All(f.Manifest.ExpertGrids, g => Assert.Equal(3, g.BundlesPerExpert));
        using var pass = await SequencePass.OpenAsync(f.Catalog, "m", new PageStoreOptions { RamBudgetBytes = 64 << 20 });
        var tokens = ModelFixture.Tokens(33, f.Spec.Vocab);
        var router = new ScoredRouting(ForwardProgram.Build(f.Manifest));
        Task<PerplexityResult> Oracle(double keep, bool random = false) => PerplexityEvaluation.RunAsync(pass.Forward, tokens, 16, 16,
            new ScoredRouting(ForwardProgram.Build(f.Manifest, oracle: new PageOracle(keep, random))), router, KvCacheType.F32);

        var exact = await PerplexityEvaluation.RunAsync(pass.Forward, tokens, 16, 16, router, null, KvCacheType.F32);
        var all = await Oracle(1);
        Assert.Equal(0, all.Kl);
        Assert.Equal(1, all.Top1Agreement);
        Assert.Equal(exact.MeanNll, all.MeanNll);
        Assert.Equal(exact.ExpertBytesPerToken, all.ExpertBytesPerToken);

        var most = await Oracle(5.0 / 6); // 5 of each row's 6 pages a layer
        var half = await Oracle(0.5);     // 3 of 6
        var third = await Oracle(0.3);    // 0.3 · 6 = 1.8: 2 of 6
        Assert.Equal(exact.ExpertBytesPerToken * 5 / 6, most.ExpertBytesPerToken, 1e-9);
        Assert.Equal(exact.ExpertBytesPerToken / 2, half.ExpertBytesPerToken, 1e-9);
        Assert.Equal(exact.ExpertBytesPerToken / 3, third.ExpertBytesPerToken, 1e-9);
        Assert.True(0 < most.Kl && most.Kl < half.Kl && half.Kl < third.Kl, $"KL at 5/6, 1/2, 0.3: {most.Kl}, {half.Kl}, {third.Kl}");

        // The random control reads as much and departs further: the oracle keeps the pages that matter.
        var random = await Oracle(0.5, random: true);
        Assert.Equal(half.ExpertBytesPerToken, random.ExpertBytesPerToken);
        Assert.True(half.Kl < random.Kl, $"KL at 1/2: oracle {half.Kl}, random {random.Kl}");
    }

    [Fact]
    public void A_share_outside_0_to_1_or_an_oracle_over_retrieval_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new PageOracle(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PageOracle(1.5));
        using var f = new ModelFixture(ModelFixture.Small(ModelFamily.Mixtral, DType.F32), "hf");
        Assert.Throws<ArgumentException>(() => ForwardProgram.Build(f.Manifest, new Vib3.Models.Retrieval.RetrievalRouting(2), new PageOracle(0.5)));
    }
}
