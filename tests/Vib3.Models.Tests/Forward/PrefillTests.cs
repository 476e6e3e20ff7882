using Vib3.Core;
using Vib3.Models.Inference;
using Vib3.Storage;
using Vib3.Synth;

namespace Vib3.Models.Tests.Forward;

/// <summary>The batched prefill computes what token-by-token decoding computes, across batch boundaries.</summary>
public sealed class PrefillTests
{
    [Theory]
    [InlineData(ModelFamily.Mixtral, "gguf")]
    [InlineData(ModelFamily.Qwen2Moe, "hf")]
    [InlineData(ModelFamily.Qwen3Moe, "gguf")]
    [InlineData(ModelFamily.Olmoe, "hf")]
    public async Task Prefill_equals_decoding_one_token_at_a_time(ModelFamily family, string format)
    {
        var spec = ModelFixture.Small(family, DType.F32) with { Context = 256 };
        using var f = new ModelFixture(spec, format, pageRows: 32);
        var tokens = ModelFixture.Tokens(ForwardPass.MaxBatchRows + 13, spec.Vocab);
        var options = new PageStoreOptions { RamBudgetBytes = 64 << 20 };

        var (seenBatched, seenSingle) = (new FfnInputRecorder(normalize: false), new FfnInputRecorder(normalize: false));
        using var batched = await SequencePass.OpenAsync(f.Catalog, "m", options, observer: seenBatched);
        var a = await batched.LogitsAsync(tokens, allPositions: true);

        using var single = await SequencePass.OpenAsync(f.Catalog, "m", options, observer: seenSingle);
        for (var p = 0; p < tokens.Length; p++)
        {
            var b = await single.Forward.DecodeAsync(tokens[p], single.Cache);
            var scale = b.Max(MathF.Abs);
            var worst = a[p].Zip(b, (x, y) => MathF.Abs(x - y)).Max();
            Assert.True(worst <= 1e-5f * scale, $"{family} position {p}: prefill vs decode max |Δ| {worst:G4} (max |logit| {scale:G4})");
        }
        Assert.Equal(tokens.Length, batched.Cache.Length);

        // Both paths routed every token of every layer the same way.
        var (rb, rs) = (batched.Forward.Routing, single.Forward.Routing);
        for (var l = 0; l < spec.Layers; l++)
        {
            Assert.Equal((long)tokens.Length * spec.TopK, rb.Decisions(l));
            for (var e = 0; e < spec.Experts; e++) Assert.Equal(rs.Selected(l, e), rb.Selected(l, e));
        }

        // An observer sees every token's FFN input in both paths, in token order, the same values.
        Assert.Equal(spec.Layers, seenBatched.Inputs.Count);
        for (var l = 0; l < spec.Layers; l++)
        {
            Assert.Equal(tokens.Length, seenBatched.Inputs[l].Count);
            Assert.Equal(tokens.Length, seenSingle.Inputs[l].Count);
            for (var p = 0; p < tokens.Length; p++)
            {
                var (x, y) = (seenBatched.Inputs[l][p], seenSingle.Inputs[l][p]);
                var worst = x.Zip(y, (u, v) => MathF.Abs(u - v)).Max();
                Assert.True(worst <= 1e-4f * y.Max(MathF.Abs), $"layer {l} position {p}: FFN input differs by {worst:G4}");
            }
        }
    }

    [Fact]
    public async Task A_second_concurrent_caller_is_refused_not_mixed_in()
    {
        using var f = new ModelFixture(ModelFixture.Small(ModelFamily.Mixtral, DType.F32), "gguf");
        // A budget of one page: every page is a real disk read, so the prefill is suspended on I/O mid-way.
        var budget = PageStore.MinimumRamBudget(f.Manifest.MaxPageBytes);
        using var pass = await SequencePass.OpenAsync(f.Catalog, "m", new PageStoreOptions { RamBudgetBytes = budget });
        var tokens = ModelFixture.Tokens(100, f.Spec.Vocab);
        var first = pass.LogitsAsync(tokens, allPositions: false);
        Assert.False(first.IsCompleted, "the prefill finished without waiting for the disk; the test cannot interleave");
        var e = await Assert.ThrowsAsync<InvalidOperationException>(async () => await pass.Forward.DecodeAsync(5, pass.Cache));
        Assert.Contains("one caller at a time", e.Message);
        await first;
        Assert.Equal(tokens.Length, pass.Cache.Length);
    }

    [Fact]
    public async Task A_prefill_cancelled_after_its_first_batch_leaves_the_cache_as_it_was()
    {
        using var f = new ModelFixture(ModelFixture.Small(ModelFamily.Mixtral, DType.F32), "gguf");
        var budget = PageStore.MinimumRamBudget(f.Manifest.MaxPageBytes);
        using var pass = await SequencePass.OpenAsync(f.Catalog, "m", new PageStoreOptions { RamBudgetBytes = budget });
        await pass.LogitsAsync([7, 8, 9], allPositions: false);
        using var cancel = new CancellationTokenSource();
        var tokens = ModelFixture.Tokens(ForwardPass.MaxBatchRows + 36, f.Spec.Vocab);
        var prefill = pass.LogitsAsync(tokens, allPositions: false, cancel.Token);
        while (pass.Cache.Length < 3 + ForwardPass.MaxBatchRows && !prefill.IsCompleted) await Task.Delay(1);
        Assert.False(prefill.IsCompleted, "the prefill finished before it could be cancelled mid-way");
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => prefill);
        Assert.Equal(3, pass.Cache.Length);
    }
}
