using LLama.Native;
using Vib3.Core;
using Vib3.Kernels;
using Vib3.Kernels.Quant;
using Vib3.LlamaCpp;
using Vib3.Models.Inference;
using Vib3.Models.Weights;
using Vib3.Storage;
using Vib3.Synth;

namespace Vib3.Models.Tests.Forward;

/// <summary>
/// Pages held interleaved in RAM (<see cref="InterleavedPageForm"/>) change nothing but speed: a Q4_K_M file made by
/// llama.cpp's quantizer (experts' gate and up Q4_K, some layers' down Q6_K, attention Q4_K/Q6_K, the output matrix
/// Q6_K) gives the same logits bit for bit with the pages interleaved and held as stored, in prefill (the batch kernels, every position) and in decode (one token at a
/// time), with two bundle pages per expert, at a RAM budget that holds the model and at one that streams its expert pages from disk.
/// </summary>
public sealed class InterleavedPagesTests
{
    [Theory]
    [InlineData(ModelFamily.Mixtral, 64 << 20)]
    [InlineData(ModelFamily.Qwen2Moe, 64 << 20)]
    [InlineData(ModelFamily.Mixtral, 1 << 20)]
    public async Task Interleaved_expert_pages_give_the_same_logits_bit_for_bit(ModelFamily family, int budget)
    {
        Assert.SkipUnless(InterleavedMatrix.Supports(DType.Q4_K), "the interleaved form needs AVX-512 VBMI");
        var spec = ModelFixture.Small(family, DType.F32) with { Dim = 256, ExpertHidden = 512, SharedExpertHidden = 256 };
        using var f = new ModelFixture(spec, "gguf", pageRows: 256, rewrite: f32 =>
        {
            var output = Path.ChangeExtension(f32, "Q4_K_M.gguf");
            LlamaCppQuantizer.Quantize(f32, output, LLamaFtype.MOSTLY_Q4_K_M);
            return output;
        });
        Assert.All(f.Manifest.ExpertGrids, g => Assert.Equal((DType.Q4_K, 2), (g.GateUpType(), g.BundlesPerExpert)));
        Assert.Contains(f.Manifest.ExpertGrids, g => g.DownType() == DType.Q6_K);
        var options = new PageStoreOptions { RamBudgetBytes = budget };
        var tokens = ModelFixture.Tokens(20, f.Spec.Vocab);

        using var held = await SequencePass.OpenAsync(f.Catalog, "m", options);
        using var stored = await SequencePass.OpenAsync(f.Catalog, "m", options, interleave: false);
        Assert.All(f.Manifest.ExpertGrids, g => Assert.Equal((WeightLayout.Interleaved, WeightLayout.Interleaved), held.Weights.ExpertLayouts(g)));
        Assert.All(f.Manifest.ExpertGrids, g => Assert.Equal((WeightLayout.Rows, WeightLayout.Rows), stored.Weights.ExpertLayouts(g)));
        // The products' matrices are held interleaved too; the embeddings, read a row at a time, are not.
        Assert.All(f.Manifest.Tensors.Where(t => t.Name.Contains("attn_") && t.Shape.Length == 2),
            t => Assert.True(held.Weights.Tensor(t.Name).Layout == WeightLayout.Interleaved, $"{t.Name} ({t.DType}) held as stored"));
        Assert.Equal(WeightLayout.Rows, held.Weights.Tensor("token_embd").Layout);
        Assert.All(f.Manifest.Tensors, t => Assert.Equal(WeightLayout.Rows, stored.Weights.Tensor(t.Name).Layout));

        AssertSameBits(await stored.LogitsAsync(tokens, allPositions: true), await held.LogitsAsync(tokens, allPositions: true), "prefill");
        for (var i = 0; i < 6; i++)
        {
            var next = (i * 37 + 11) % f.Spec.Vocab;
            AssertSameBits([await stored.Forward.DecodeAsync(next, stored.Cache)], [await held.Forward.DecodeAsync(next, held.Cache)], $"decode step {i}");
        }
    }

    /// <summary>Every page of a Q4_K_M file gives back its stored bytes, which the plain store reads (what PageKeys and
    /// tools that need the stored form rely on); the expert pages and the interleaved dense ones differ from them while
    /// held, the others are held as stored.</summary>
    [Fact]
    public async Task Held_expert_pages_give_back_their_stored_bytes()
    {
        Assert.SkipUnless(InterleavedMatrix.Supports(DType.Q4_K), "the interleaved form needs AVX-512 VBMI");
        var spec = ModelFixture.Small(ModelFamily.Mixtral, DType.F32) with { Dim = 256, ExpertHidden = 512 };
        using var f = new ModelFixture(spec, "gguf", pageRows: 256, rewrite: f32 =>
        {
            var output = Path.ChangeExtension(f32, "Q4_K_M.gguf");
            LlamaCppQuantizer.Quantize(f32, output, LLamaFtype.MOSTLY_Q4_K_M);
            return output;
        });
        var options = new PageStoreOptions { RamBudgetBytes = 64 << 20 };
        using var weights = ModelWeights.Open(f.Catalog, "m", options);
        using var plain = Vib3.Storage.Catalog.StoredModel.Open(f.Catalog, "m", options);
        var interleaved = f.Manifest.ExpertGrids.SelectMany(g => Enumerable.Range(g.FirstPage, g.Experts * g.BundlesPerExpert))
            .Concat(f.Manifest.Tensors.Where(t => weights.Tensor(t.Name).Layout == WeightLayout.Interleaved).SelectMany(t => Enumerable.Range(t.FirstPage, t.PageCount)))
            .ToHashSet();
        Assert.Contains(f.Manifest.Tensors.Single(t => t.Name == "blk.0.attn_q").FirstPage, interleaved);
        for (var page = 0; page < weights.Store.PageCount; page++)
        {
            using var held = await weights.Store.ReadAsync(page);
            using var stored = await plain.Store.ReadAsync(page);
            Assert.True(interleaved.Contains(page) != held.Memory.Span.SequenceEqual(stored.Memory.Span), $"page {page}: held {(interleaved.Contains(page) ? "as stored" : "changed")}");
            Assert.True(weights.StoredBytes(page, held.Memory.Span).SequenceEqual(stored.Memory.Span), $"page {page}");
        }
    }

    private static void AssertSameBits(float[][] expected, float[][] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var p = 0; p < expected.Length; p++)
            for (var j = 0; j < expected[p].Length; j++)
                Assert.True(BitConverter.SingleToInt32Bits(expected[p][j]) == BitConverter.SingleToInt32Bits(actual[p][j]),
                    $"{what}: position {p} logit {j}: {actual[p][j]} interleaved, {expected[p][j]} as stored");
    }
}
