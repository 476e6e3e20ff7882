using LLama.Native;
using Vib3.Core;
using Vib3.Kernels;
using Vib3.LlamaCpp;
using Vib3.Models.Inference;
using Vib3.Storage;
using Vib3.Synth;

namespace Vib3.Models.Tests.Forward;

/// <summary>GGUF files quantised to Q4_0, Q4_1, Q5_0 and Q5_1 by llama.cpp's own quantizer (from the f32 synthetic
/// model), converted by vib3 without re-quantisation, against llama.cpp on the same file: every position within
/// 2e-3 × max |logit| and the same argmax. Both engines round the activations to 8-bit blocks before the dot
/// products (llama.cpp: q8_0 for Q4_0/Q5_0, q8_1 for Q4_1/Q5_1; vib3: the same q8_0 quants, plus q8_1's block sum
/// rounded to f16 as llama.cpp stores it for the _1 types). Measured while building this: with f32 activations vib3
/// missed the bound (worst |Δlogit| / max |logit| 7.6e-3, Mixtral Q4_0); with q8_0 activations but q8_1's block sum
/// kept in f32, the _1 types still missed it (worst 8.5e-3, Qwen3Moe Q5_1). With the SIMD kernels' order (eight f32
/// lanes per row, one horizontal sum, as llama.cpp's x86 kernels), 381 of the 384 positions agree to 3e-7 × max
/// |logit| (f32 summation order only). The rest are activation-rounding flips: an activation whose x·127/amax lies
/// within an f32 rounding of a half-integer rounds the other way in one engine (Mixtral Q4_0: 1.4e-4 at one position;
/// Mixtral Q5_1: 6.6e-5 at two). OLMoE Q5_1, which needed 5e-3 with a scalar block order, now agrees to 2e-7.</summary>
public sealed class LlamaCppLegacyQuantTests
{
    private const float Tolerance = 2e-3f;

    /// <summary>Not the fixture's default (5): with those tokens llama.cpp itself gives Qwen2Moe Q4_0 one of two
    /// results, fixed for the life of a process and chosen per process (2 of 12 whole-project runs measured the
    /// second; every evaluation inside such a process, fresh loads and other threads included, gave it again). The
    /// two agree at positions 0–3 and differ from position 4 on by up to 1.4e-3 (3e-3 × max |logit|), the mark of
    /// a near-tie decided differently at position 4 (an expert choice or an activation's rounding) that attention
    /// carries forward. vib3's logits were identical in every process and within 1.2e-7 of the common result. Neither
    /// the thread count (1–4), the memory map, FTZ/DAZ on the calling thread nor running on another thread produced
    /// the second result; its cause inside llama.cpp is not known. These tokens give no such near-tie.</summary>
    private const int TokenSeed = 6;

    public static TheoryData<ModelFamily, DType> Cases()
    {
        var data = new TheoryData<ModelFamily, DType>();
        foreach (var family in new[] { ModelFamily.Mixtral, ModelFamily.Qwen2Moe, ModelFamily.Qwen3Moe, ModelFamily.Olmoe })
            foreach (var type in new[] { DType.Q4_0, DType.Q4_1, DType.Q5_0, DType.Q5_1 })
                data.Add(family, type);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Llama_cpp_quantised_file_matches_llama_cpp_at_every_position(ModelFamily family, DType type)
    {
        using var f = new ModelFixture(ModelFixture.Small(family, DType.F32), "gguf", pageRows: 32,
            rewrite: f32 => Quantise(f32, type));
        // The experts and the attention weights are stored as llama.cpp wrote them (not silently re-encoded).
        Assert.All(f.Manifest.ExpertGrids, g => Assert.Equal(type.Name(), g.DType));
        Assert.Contains(f.Manifest.Tensors, t => t.DType == type.Name() && t.Name.Contains("attn", StringComparison.Ordinal));

        var tokens = ModelFixture.Tokens(24, f.Spec.Vocab, seed: TokenSeed);
        float[][] expected;
        using (var llama = LlamaCppModel.Load(f.SourcePath))
            expected = llama.Logits(tokens);
        using var pass = await SequencePass.OpenAsync(f.Catalog, "m", new PageStoreOptions { RamBudgetBytes = 64 << 20 });
        var actual = await pass.LogitsAsync(tokens, allPositions: true);

        LlamaCppDifferentialTests.AssertClose(expected, actual, $"{family} {type}", Tolerance);
        for (var p = 0; p < expected.Length; p++)
            Assert.True(VectorOps.ArgMax(expected[p]) == VectorOps.ArgMax(actual[p]), $"{family} {type} position {p}: argmax differs");
    }

    /// <summary>llama.cpp's quantizer (no importance matrix) writes <paramref name="type"/> next to the f32 file.</summary>
    private static string Quantise(string f32, DType type)
    {
        var ftype = type switch
        {
            DType.Q4_0 => LLamaFtype.MOSTLY_Q4_0,
            DType.Q4_1 => LLamaFtype.MOSTLY_Q4_1,
            DType.Q5_0 => LLamaFtype.MOSTLY_Q5_0,
            DType.Q5_1 => LLamaFtype.MOSTLY_Q5_1,
            _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
        };
        var output = Path.ChangeExtension(f32, $"{type.Name()}.gguf");
        LlamaCppQuantizer.Quantize(f32, output, ftype);
        return output;
    }
}
