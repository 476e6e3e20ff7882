using LLama.Native;
using Vib3.Core;
using Vib3.Kernels;
using Vib3.LlamaCpp;
using Vib3.Models.Inference;
using Vib3.Storage;
using Vib3.Synth;

namespace Vib3.Models.Tests.Forward;

/// <summary>A model whose hidden size is whole 256-value blocks but whose expert hidden size (96) is not — as in real
/// MoEs (Qwen1.5-MoE's 1408) — quantised by llama.cpp to a K mix: gate and up are Q4_K/Q3_K/Q2_K while down falls back
/// per layer to a 32-value type (Q5_0, Q8_0, Q4_0…). vib3 cuts gate and up by whole rows and down by 96-column slices,
/// so only down's block has to divide the expert hidden size; before, the widest expert block had to divide both and
/// such a file was refused. vib3 reads it as it is and matches llama.cpp at every position within 2e-3 × max |logit|
/// (<see cref="LlamaCppMixBytesTests"/> shows vib3's own conversion writes the same bytes).</summary>
public sealed class LlamaCppNarrowDownTests
{
    private const float Tolerance = 2e-3f;

    [Theory]
    [InlineData(LLamaFtype.MOSTLY_Q4_K_M, "q4_k")]
    [InlineData(LLamaFtype.MOSTLY_Q3_K_M, "q3_k")]
    public async Task K_gate_and_up_with_a_narrow_fallback_down_match_llama_cpp(LLamaFtype ftype, string gateUp)
    {
        var spec = ModelFixture.Small(ModelFamily.Mixtral, DType.F32) with { Dim = 256, ExpertHidden = 96, SharedExpertHidden = 256 };
        using var f = new ModelFixture(spec, "gguf", rewrite: f32 =>
        {
            var output = Path.ChangeExtension(f32, $"{ftype}.gguf");
            LlamaCppQuantizer.Quantize(f32, output, ftype);
            return output;
        });
        Assert.All(f.Manifest.ExpertGrids, g => Assert.Equal(gateUp, g.DType));
        Assert.All(f.Manifest.ExpertGrids, g => Assert.Equal(32, g.DownType().BlockSize()));
        Assert.Equal(96, f.Manifest.PageRows);

        var tokens = ModelFixture.Tokens(16, f.Spec.Vocab);
        float[][] expected;
        using (var llama = LlamaCppModel.Load(f.SourcePath))
            expected = llama.Logits(tokens);
        using var pass = await SequencePass.OpenAsync(f.Catalog, "m", new PageStoreOptions { RamBudgetBytes = 64 << 20 });
        var actual = await pass.LogitsAsync(tokens, allPositions: true);

        LlamaCppDifferentialTests.AssertClose(expected, actual, $"{ftype} narrow down", Tolerance);
        for (var p = 0; p < expected.Length; p++)
            Assert.True(VectorOps.ArgMax(expected[p]) == VectorOps.ArgMax(actual[p]), $"{ftype} position {p}: argmax differs");
    }
}
