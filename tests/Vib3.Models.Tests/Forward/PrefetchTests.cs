using Vib3.Core;
using Vib3.Kernels;
using Vib3.Models.Inference;
using Vib3.Storage;
using Vib3.Synth;

namespace Vib3.Models.Tests.Forward;

public sealed class PrefetchTests
{
    /// <summary>Decodes greedily, one token at a time (the decode path) then in batched steps (the scheduler's path),
    /// under a budget holding a third of the model; returns the tokens and the pass for its counters.</summary>
    private static async Task<(List<int> Tokens, SequencePass Pass)> RunAsync(ModelFixture f, long budget, bool prefetch)
    {
        var pass = await SequencePass.OpenAsync(f.Catalog, "m", new PageStoreOptions { RamBudgetBytes = budget });
        pass.Forward.PrefetchExperts = prefetch;
        var tokens = new List<int>(ModelFixture.Tokens(5, f.Spec.Vocab));
        var logits = (await pass.LogitsAsync(tokens, allPositions: false))[0];
        for (var i = 0; i < 12; i++)
        {
            tokens.Add(VectorOps.ArgMax(logits));
            logits = await pass.Forward.DecodeAsync(tokens[^1], pass.Cache);
        }
        return (tokens, pass);
    }

    [Fact]
    public async Task Prefetching_predicted_experts_never_changes_the_tokens_and_its_reads_get_used()
    {
        var spec = ModelFixture.Small(ModelFamily.Mixtral, DType.F32) with { Dim = 128, ExpertHidden = 256, Experts = 8, Layers = 4 };
        using var f = new ModelFixture(spec, "hf", pageRows: 32);
        var budget = PageStore.MinimumRamBudget(f.Manifest.MaxPageBytes) + f.Manifest.PageBytes / 3;

        var (without, off) = await RunAsync(f, budget, prefetch: false);
        var (with, on) = await RunAsync(f, budget, prefetch: true);
        using (off)
        using (on)
        {
            Assert.Equal(without, with);
            Assert.Equal(0, off.Weights.Store.Prefetches.Issued);
            Assert.Equal(0, off.Forward.Prediction.Decisions);

            var p = on.Weights.Store.Prefetches;
            Assert.True(p.Issued > 0, "the budget left room to prefetch");
            Assert.True(p.Used > 0 && p.Used <= p.Issued, $"{p.Used} of {p.Issued} prefetched pages were used");
            var prediction = on.Forward.Prediction;
            // every routing decision of layers 1..3 was predicted one layer ahead (prefill and decode rows alike)
            Assert.Equal(17L * spec.TopK * (spec.Layers - 1), prediction.Decisions);
            Assert.InRange(prediction.Accuracy, 0.0, 1.0);
            Assert.True(prediction.Predicted > 0);
        }
    }

    /// <summary>Router-first rows read nothing ahead (measured: the keys' picks of predicted experts miss too often at a
    /// tight budget), though their experts are still predicted and scored; the router's rows over the same tokens do.</summary>
    [Fact]
    public async Task Router_first_rows_read_nothing_ahead()
    {
        var spec = ModelFixture.Small(ModelFamily.Mixtral, DType.F32) with { Dim = 128, ExpertHidden = 256, Experts = 8, Layers = 4 };
        using var f = new ModelFixture(spec, "hf", pageRows: 32);
        var budget = PageStore.MinimumRamBudget(f.Manifest.MaxPageBytes) + f.Manifest.PageBytes / 3;
        var (_, router) = await RunAsync(f, budget, prefetch: true);
        using (router)
        {
            using var pass = await SequencePass.OpenAsync(f.Catalog, "m", new PageStoreOptions { RamBudgetBytes = budget });
            var w = pass.Weights;
            var index = new Vib3.Models.Retrieval.PageIndex(
                    await Vib3.Models.Retrieval.PageKeys.BuildAsync(w, Vib3.Storage.Catalog.PageKeyKind.MeanGate, Vib3.Storage.Catalog.PageKeyMetric.InnerProduct),
                    w.ExpertGrids, "m")
                .WithNeurons(await Vib3.Models.Retrieval.NeuronKeys.BuildAsync(w, Vib3.Models.Retrieval.NeuronKeySpec.Default), w.ExpertGrids, "m");
            w.Store.DropCache();
            var routing = new Vib3.Models.Retrieval.RetrievalRouting(0, Budget: 0.5);
            var tokens = ModelFixture.Tokens(17, spec.Vocab);
            foreach (var t in tokens) await pass.Forward.DecodeAsync(t, pass.Cache, routing, index);

            Assert.Equal(0, w.Store.Prefetches.Issued);
            Assert.True(router.Weights.Store.Prefetches.Issued > 0, "the router's rows read ahead under the same budget");
            Assert.Equal(17L * spec.TopK * (spec.Layers - 1), pass.Forward.Prediction.Decisions); // each of the 17 tokens, layers 1..3: predicted all the same
        }
    }
}
