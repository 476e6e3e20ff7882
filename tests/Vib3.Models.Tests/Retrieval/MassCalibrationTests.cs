using Vib3.Core;
using Vib3.Models.Inference;
using Vib3.Models.Retrieval;
using Vib3.Storage;
using Vib3.Storage.Catalog;
using Vib3.Synth;

namespace Vib3.Models.Tests.Retrieval;

/// <summary>The retrieval calibration (<see cref="MassCalibration"/>) on a model of twelve pages an expert: its page
/// shares are exactly what the forward pass then reads at those masses (the same choice of pages, measured on the same
/// rows), its curves run from a fraction of the pages to all of them with the error falling to none, each layer's
/// probe costs KL, and the layers' own masses run through the pass.</summary>
public sealed class MassCalibrationTests
{
    /// <summary>CREATE INDEX's defaults: mean_gate page keys and gate_up_q4_0 neuron keys.</summary>
    private static async Task<PageIndex> IndexAsync(Vib3.Models.Weights.ModelWeights w) =>
        new PageIndex(await PageKeys.BuildAsync(w, PageKeyKind.MeanGate, PageKeyMetric.InnerProduct), w.ExpertGrids, "m")
            .WithNeurons(await NeuronKeys.BuildAsync(w, NeuronKeySpec.Default), w.ExpertGrids, "m");

    [Fact]
    public async Task The_curves_are_what_the_pass_reads_and_the_allocation_runs()
    {
        using var f = new ModelFixture(ModelFixture.Small(ModelFamily.Mixtral, DType.F32), "hf", pageRows: 8);
        using var pass = await SequencePass.OpenAsync(f.Catalog, "m", new PageStoreOptions { RamBudgetBytes = 64 << 20 });
        var w = pass.Weights;
        var index = await IndexAsync(w);
        var tokens = ModelFixture.Tokens(49, f.Spec.Vocab);

        var c = await MassCalibration.RunAsync(pass.Forward, index, tokens, 16, "calibration.txt");

        Assert.Equal(tokens.Length, c.Tokens);
        Assert.Equal(RetrievalCalibration.Grid, c.Masses);
        Assert.Equal(w.ExpertGrids.Keys.Order(), c.Layers.Select(l => l.Layer));
        foreach (var l in c.Layers)
        {
            for (var i = 1; i < c.Masses.Length; i++)
            {
                Assert.True(l.PagesKept[i] >= l.PagesKept[i - 1], $"layer {l.Layer}: pages kept fall from mass {c.Masses[i - 1]} to {c.Masses[i]}");
                Assert.True(l.TrueKept[i] >= l.TrueKept[i - 1] - 1e-12, $"layer {l.Layer}: the true share kept falls at mass {c.Masses[i]}");
            }
            Assert.True(l.PagesKept[0] < 0.6, $"layer {l.Layer} keeps {l.PagesKept[0]} of its pages at mass 0.5");
            Assert.Equal(1, l.PagesKept[^1], 1e-12);
            Assert.Equal(0, l.Error[^1], 1e-5);
            Assert.True(l.Error[0] > l.Error[40], $"layer {l.Layer}: error {l.Error[0]} at mass 0.5, {l.Error[40]} at 0.9");
            Assert.True(l.ProbeKl > 0, $"layer {l.Layer}: probing it at {c.ProbeMass} cost no KL");
            Assert.Equal(l.Error[40], l.ProbeError, 1e-12);
        }

        // With only the first layer at mass 0.8 (the others reading every page), the pass sees the calibration's own
        // inputs there and reads, row for row, the pages it counted: of 24 a layer (top-2 of 12), each one page's bytes,
        // plus the experts' neuron keys.
        var grid = w.ExpertGrids.Values.First();
        var (first, pageBytes) = (c.Layers[0], (double)grid.BundleBytes(grid.BundleRows));
        var keyBytes = (double)c.Layers.Count * 2 * grid.ExpertHidden * NeuronKeyLayer.NeuronBytes(DType.Q4_0, true, grid.Dim);
        var exact = new ScoredRouting(ForwardProgram.Build(f.Manifest));
        Task<PerplexityResult> Run(IReadOnlyDictionary<int, double> masses) => PerplexityEvaluation.RunAsync(pass.Forward, tokens, 16, 16,
            new ScoredRouting(ForwardProgram.Build(f.Manifest, new RetrievalRouting(0, Mass: 0.9, LayerMass: masses)), index), exact, KvCacheType.F32);
        var firstAt08 = await Run(c.Layers.ToDictionary(l => l.Layer, l => l == first ? 0.8 : 1));
        var expected = first.PagesKept[30] * 24 * pageBytes + (c.Layers.Count - 1) * 24 * pageBytes + keyBytes;
        Assert.Equal(expected, firstAt08.ExpertBytesPerToken, 1e-6);

        // Each layer's own mass, as the planner hands the allocation to the pass: later layers see truncated inputs,
        // so the pages they read are near, not exactly, what the calibration counted.
        var allocated = c.Allocate(c.PredictedKl(0.9));
        var own = await Run(allocated.ToDictionary(x => x.Key, x => x.Value.Mass));
        var predicted = c.Layers.Sum(l => allocated[l.Layer].Pages * 24 * pageBytes) + keyBytes;
        Assert.True(Math.Abs(own.ExpertBytesPerToken - predicted) < 0.1 * predicted, $"read {own.ExpertBytesPerToken} bytes a token, {predicted} predicted");
        Assert.True(own.ExpertBytesPerToken < c.Layers.Count * 24 * pageBytes, "the allocation read every page");
    }

    [Fact]
    public async Task A_text_shorter_than_a_window_is_refused_with_one_line()
    {
        using var f = new ModelFixture(ModelFixture.Small(ModelFamily.Mixtral, DType.F32), "hf", pageRows: 8);
        using var pass = await SequencePass.OpenAsync(f.Catalog, "m", new PageStoreOptions { RamBudgetBytes = 64 << 20 });
        var index = await IndexAsync(pass.Weights);
        var e = await Assert.ThrowsAsync<Vib3Exception>(() => MassCalibration.RunAsync(pass.Forward, index, ModelFixture.Tokens(10, f.Spec.Vocab), 16, "short.txt"));
        Assert.Equal(SqlState.InvalidParameterValue, e.SqlState);
        Assert.Equal("short.txt: the calibration text is 10 tokens; it needs at least 17 (one window of 16)", e.Message);
    }
}
