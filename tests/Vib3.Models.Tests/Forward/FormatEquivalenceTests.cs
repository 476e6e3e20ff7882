using Vib3.Core;
using Vib3.Models.Inference;
using Vib3.Storage;
using Vib3.Synth;
using Vib3.Kernels;

namespace Vib3.Models.Tests.Forward;

/// <summary>The same weights written as HF safetensors and as GGUF (llama's permuted Q/K and interleaved RoPE
/// included) give the same logits; q8_0 pages keep the f32 model's top-1 choice; a RAM budget far below the model
/// changes where pages come from, not the tokens.</summary>
public sealed class FormatEquivalenceTests
{
    private static async Task<float[][]> Logits(ModelFixture f, int[] tokens, long budget = 64 << 20)
    {
        using var pass = await SequencePass.OpenAsync(f.Catalog, "m", new PageStoreOptions { RamBudgetBytes = budget });
        return await pass.LogitsAsync(tokens, allPositions: true);
    }

    [Theory]
    [InlineData(ModelFamily.Mixtral)]
    [InlineData(ModelFamily.Qwen2Moe)]
    [InlineData(ModelFamily.Qwen3Moe)]
    [InlineData(ModelFamily.Olmoe)]
    public async Task Safetensors_and_gguf_give_the_same_logits(ModelFamily family)
    {
        var spec = ModelFixture.Small(family, DType.F32);
        using var hf = new ModelFixture(spec, "hf");
        using var gguf = new ModelFixture(spec, "gguf");
        var tokens = ModelFixture.Tokens(20, spec.Vocab);
        var a = await Logits(hf, tokens);
        var b = await Logits(gguf, tokens);
        for (var p = 0; p < tokens.Length; p++)
        {
            var scale = a[p].Max(MathF.Abs);
            var worst = a[p].Zip(b[p], (x, y) => MathF.Abs(x - y)).Max();
            // Only the order of the head dimensions inside attention's dot products differs.
            Assert.True(worst <= 1e-5f * scale, $"{family} position {p}: max |Δlogit| {worst:G4} vs max |logit| {scale:G4}");
        }
    }

    [Fact]
    public async Task Q8_0_pages_keep_the_f32_top_1()
    {
        var spec = ModelFixture.Small(ModelFamily.Mixtral, DType.F32) with { Context = 512 };
        using var f32 = new ModelFixture(spec, "gguf");
        using var q8 = new ModelFixture(spec, "gguf", storeAs: DType.Q8_0);
        var tokens = ModelFixture.Tokens(512, spec.Vocab, seed: 3);
        var a = await Logits(f32, tokens);
        var b = await Logits(q8, tokens);
        var agree = Enumerable.Range(0, tokens.Length).Count(p => VectorOps.ArgMax(a[p]) == VectorOps.ArgMax(b[p]));
        var rate = agree / (double)tokens.Length;
        Console.WriteLine($"q8_0 vs f32 top-1 agreement: {agree}/{tokens.Length} = {rate:P1}");
        Assert.True(rate >= 0.9, $"q8_0 agrees with f32 on top-1 at only {rate:P1} of 512 positions");
    }

    [Fact]
    public async Task A_budget_far_below_the_model_gives_the_same_tokens()
    {
        var spec = ModelFixture.Small(ModelFamily.Qwen3Moe, DType.F32) with { Dim = 128, ExpertHidden = 256, Experts = 8, Layers = 3 };
        using var f = new ModelFixture(spec, "hf", pageRows: 32);
        var tokens = ModelFixture.Tokens(12, spec.Vocab);
        var roomy = await Logits(f, tokens);
        var budget = PageStore.MinimumRamBudget(f.Manifest.MaxPageBytes) + 2L * f.Manifest.MaxPageBytes;
        Assert.True(f.Manifest.PageBytes > 10 * (budget - PageStore.MinimumRamBudget(f.Manifest.MaxPageBytes)));
        using var pass = await SequencePass.OpenAsync(f.Catalog, "m", new PageStoreOptions { RamBudgetBytes = budget });
        var tight = await pass.LogitsAsync(tokens, allPositions: true);
        for (var p = 0; p < tokens.Length; p++) Assert.Equal(roomy[p], tight[p]);
        Assert.True(pass.Weights.Store.Stats.Evictions > 0);
    }

    [Fact]
    public async Task An_f16_kv_cache_stays_within_half_precision_of_f32()
    {
        var spec = ModelFixture.Small(ModelFamily.Qwen3Moe, DType.F32);
        using var f = new ModelFixture(spec, "gguf");
        var tokens = ModelFixture.Tokens(40, spec.Vocab);
        var options = new PageStoreOptions { RamBudgetBytes = 64 << 20 };
        using var exact = await SequencePass.OpenAsync(f.Catalog, "m", options);
        using var half = await SequencePass.OpenAsync(f.Catalog, "m", options, kvCache: KvCacheType.F16);
        Assert.Equal(KvCacheType.F16, half.Cache.Type);
        Assert.Equal(exact.Cache.Bytes / 2, half.Cache.Bytes);
        var a = await exact.LogitsAsync(tokens, allPositions: true);
        var b = await half.LogitsAsync(tokens, allPositions: true);
        for (var p = 0; p < tokens.Length; p++)
        {
            var scale = a[p].Max(MathF.Abs);
            var worst = a[p].Zip(b[p], (x, y) => MathF.Abs(x - y)).Max();
            Assert.True(worst <= 5e-3f * scale, $"position {p}: f16 KV moves logits by {worst:G4} (max |logit| {scale:G4})");
            Assert.True(worst > 0 || p == 0, "the f16 cache should not be bit-identical to f32 beyond the first position");
        }
    }
}
