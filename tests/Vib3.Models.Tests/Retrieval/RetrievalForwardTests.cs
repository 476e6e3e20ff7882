using Vib3.Core;
using Vib3.Kernels;
using Vib3.Models.Inference;
using Vib3.Models.Retrieval;
using Vib3.Storage;
using Vib3.Storage.Catalog;
using Vib3.Synth;

namespace Vib3.Models.Tests.Retrieval;

/// <summary>The forward pass routed by retrieval: the single-sequence path and the batched one agree, retrieval
/// touches only the pages it retrieved, and without an index it is refused.</summary>
public sealed class RetrievalForwardTests
{
    private static async Task<(ModelFixture Fixture, SequencePass A, SequencePass B, PageIndex Index)> OpenAsync(DType dtype)
    {
        var spec = ModelFixture.Small(ModelFamily.Mixtral, dtype) with { ExpertHidden = 128 };
        var fixture = new ModelFixture(spec, "hf", null, 32); // 4 bundle pages per expert, 16 per layer
        var options = new PageStoreOptions { RamBudgetBytes = 64 << 20 };
        var a = await SequencePass.OpenAsync(fixture.Catalog, "m", options);
        var b = await SequencePass.OpenAsync(fixture.Catalog, "m", options);
        var keys = await PageKeys.BuildAsync(a.Weights, PageKeyKind.SvdGate, PageKeyMetric.InnerProduct);
        return (fixture, a, b, new PageIndex(keys, a.Weights.ExpertGrids, "m"));
    }

    [Fact]
    public async Task Decode_and_batched_steps_route_by_retrieval_alike()
    {
        var (fixture, single, batched, index) = await OpenAsync(DType.F32);
        using var _ = fixture;
        using var __ = single;
        using var ___ = batched;
        var routing = new RetrievalRouting(3);
        var tokens = ModelFixture.Tokens(12, fixture.Spec.Vocab);
        // Building the keys read every expert page of the first pass: count from here.
        var before = new[] { single, batched }.Select(s => s.Weights.Store.ExpertTiersByLayer!.ToArray()).ToArray();
        for (var i = 0; i < tokens.Length; i++)
        {
            var a = (float[])(await single.Forward.DecodeAsync(tokens[i], single.Cache, routing, index)).Clone();
            var b = (await batched.Forward.StepAsync([new StepRow(tokens[i], batched.Cache, i, null, ForwardProgram.Build(batched.Weights.Manifest, routing), index)], [0]))[0];
            Assert.Equal(VectorOps.ArgMax(a), VectorOps.ArgMax(b));
            for (var v = 0; v < a.Length; v++) Assert.True(Math.Abs(a[v] - b[v]) < 1e-3f, $"position {i} logit {v}: {a[v]} vs {b[v]}");
        }
        // At most k pages per layer per token, so at most 3 distinct experts a token: every recorded decision is one.
        var layers = single.Forward.Routing.Layers;
        for (var l = 0; l < layers; l++) Assert.InRange(single.Forward.Routing.Decisions(l), tokens.Length, 3L * tokens.Length);
        // Retrieval reads exactly the k pages it retrieved, no more: every expert-page read of a layer (from RAM,
        // joined or from disk) is one of the 3 per token, in both paths.
        var sessions = new[] { single, batched };
        for (var s = 0; s < sessions.Length; s++)
            foreach (var layer in sessions[s].Weights.Store.ExpertTiersByLayer!)
            {
                var was = before[s][layer.Layer];
                var reads = layer.Hits + layer.Joined + layer.Misses - (was.Hits + was.Joined + was.Misses);
                Assert.True(3L * tokens.Length == reads, $"{(s == 0 ? "decode" : "batched")} layer {layer.Layer}: {reads} expert-page reads for {tokens.Length} tokens");
            }
    }

    [Fact]
    public async Task Retrieval_differs_from_the_router_and_k_pages_change_the_result()
    {
        var (fixture, a, b, index) = await OpenAsync(DType.F32);
        using var _ = fixture;
        using var __ = a;
        using var ___ = b;
        var token = ModelFixture.Tokens(1, fixture.Spec.Vocab)[0];
        var routed = (float[])(await a.Forward.DecodeAsync(token, a.Cache)).Clone();
        var retrieved = await b.Forward.DecodeAsync(token, b.Cache, new RetrievalRouting(2), index);
        Assert.NotEqual(routed, retrieved);
        Assert.All(retrieved, v => Assert.True(float.IsFinite(v)));
    }

    /// <summary>The index comes with each row: two rows of one step retrieving from two different indexes each get
    /// what they get alone with their own (the pass holds no index of its own).</summary>
    [Fact]
    public async Task Each_row_retrieves_from_the_index_it_carries()
    {
        var (fixture, a, b, svd) = await OpenAsync(DType.F32);
        using var _ = fixture;
        using var __ = a;
        using var ___ = b;
        var mean = new PageIndex(await PageKeys.BuildAsync(a.Weights, PageKeyKind.MeanGate, PageKeyMetric.InnerProduct), a.Weights.ExpertGrids, "m");
        var routing = new RetrievalRouting(3);
        var token = ModelFixture.Tokens(1, fixture.Spec.Vocab)[0];
        var alone = new List<float[]>();
        foreach (var index in new[] { svd, mean })
        {
            a.Cache.Clear();
            alone.Add((float[])(await a.Forward.DecodeAsync(token, a.Cache, routing, index)).Clone());
        }
        Assert.NotEqual(alone[0], alone[1]); // the two indexes pick different pages
        var other = KvCache.For(b.Forward.Hyper, 16);
        var program = ForwardProgram.Build(b.Weights.Manifest, routing);
        var together = await b.Forward.StepAsync([new StepRow(token, b.Cache, 0, null, program, svd), new StepRow(token, other, 0, null, program, mean)], [0, 1]);
        for (var r = 0; r < 2; r++)
        {
            Assert.Equal(VectorOps.ArgMax(alone[r]), VectorOps.ArgMax(together[r]));
            for (var v = 0; v < alone[r].Length; v++)
                Assert.True(Math.Abs(alone[r][v] - together[r][v]) < 1e-4f, $"row {r} logit {v}: alone {alone[r][v]}, together {together[r][v]}");
        }
    }

    [Fact]
    public async Task Retrieval_without_an_index_is_refused()
    {
        var spec = ModelFixture.Small(ModelFamily.Mixtral, DType.F32);
        using var fixture = new ModelFixture(spec, "hf");
        using var pass = await SequencePass.OpenAsync(fixture.Catalog, "m", new PageStoreOptions { RamBudgetBytes = 64 << 20 });
        var e = await Assert.ThrowsAsync<Vib3Exception>(async () => await pass.Forward.DecodeAsync(5, pass.Cache, new RetrievalRouting(2), null));
        Assert.Equal(SqlState.FeatureNotSupported, e.SqlState);
        Assert.Contains("CREATE INDEX ON MODEL m", e.Message);
        e = await Assert.ThrowsAsync<Vib3Exception>(async () =>
            await pass.Forward.StepAsync([new StepRow(5, pass.Cache, 0, null, ForwardProgram.Build(pass.Weights.Manifest, new RetrievalRouting(2)))], [0]));
        Assert.Equal(SqlState.FeatureNotSupported, e.SqlState);
    }

    [Fact]
    public async Task A_page_key_file_round_trips_and_a_flipped_bit_is_data_corrupted()
    {
        var (fixture, a, b, index) = await OpenAsync(DType.F32);
        using var _ = fixture;
        using var __ = a;
        using var ___ = b;
        var keys = await PageKeys.BuildAsync(a.Weights, PageKeyKind.MeanGate, PageKeyMetric.Cosine);
        var modelDir = fixture.Catalog.ModelDir("m");
        PageIndexFolder.Publish(modelDir, keys);
        var read = PageIndexFolder.Read(modelDir);
        Assert.Equal(keys.Select(k => (k.Layer, k.Pages, k.Dims, k.Kind, k.Metric)), read.Select(k => (k.Layer, k.Pages, k.Dims, k.Kind, k.Metric)));
        Assert.Equal(keys[0].Keys, read[0].Keys);

        var path = Path.Combine(PageIndexFolder.Dir(modelDir), PageKeyFile.FileName(0));
        var bytes = File.ReadAllBytes(path);
        bytes[^20] ^= 1;
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<Vib3Exception>(() => PageIndexFolder.Read(modelDir));
        Assert.Equal(SqlState.DataCorrupted, e.SqlState);
        Assert.Contains(path, e.Message);
        File.WriteAllBytes(path, bytes[..40]); // torn: shorter than the header says
        Assert.Equal(SqlState.DataCorrupted, Assert.Throws<Vib3Exception>(() => PageIndexFolder.Read(modelDir)).SqlState);
    }
}
