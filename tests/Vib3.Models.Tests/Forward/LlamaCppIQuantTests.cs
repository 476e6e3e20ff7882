using Vib3.Core;
using Vib3.Kernels;
using Vib3.LlamaCpp;
using Vib3.Models.Inference;
using Vib3.Models.Tests.LlamaCpp;
using Vib3.Storage;
using Vib3.Synth;

namespace Vib3.Models.Tests.Forward;

/// <summary>
/// GGUF files of the low-bit IQ types, converted by vib3 without re-quantisation, against llama.cpp on the same file:
/// every position within 2e-3 × max |logit| and the same argmax, as <see cref="LlamaCppKQuantTests"/>. The 256-wide
/// synthetic Mixtral (every row whole 256-value blocks) has each matrix quantised by ggml itself
/// (<see cref="GgufRewrite.Requantise"/>, all-ones importance matrix, as llama.cpp's file quantizer will not make these
/// types without one). Both engines quantise activations to Q8_K and sum the same integers, so they differ by f32
/// summation order only. Measured while building this (worst |Δlogit| / max |logit| over 16 positions): iq2_xxs 2.2e-7,
/// iq2_xs 3.4e-7, iq3_xxs 2.0e-7, iq3_s 2.3e-7, iq1_s 3.4e-7, iq1_m 1.9e-7. llama.cpp on the f32 twin of the same
/// blocks (the values vib3's dequantiser reads, computed with f32 activations) misses by 0.014 (iq2_xs) to 0.125
/// (iq3_s), so the bound sees an engine that skipped the Q8_K activation path.
/// IQ2_S is not in the list: with every matrix in IQ2_S, vib3 and llama.cpp differ by 0.016 from position 0 on and
/// the argmax differs at 2 of 16 positions. With the token embedding plus any one of the other matrix kinds in IQ2_S,
/// or everything but the embedding, they agree to 3e-7, and MatVec equals ggml's IQ2_S dot (IntegerBlockDotTests),
/// so it looks like an f32-order difference flipping a Q8_K rounding of lattice-valued activations (as IQ4_NL in
/// <see cref="LlamaCppKQuantTests"/>), but that is not yet shown; until it is, IQ2_S files have no logits check.
/// </summary>
public sealed class LlamaCppIQuantTests
{
    private const float Tolerance = 2e-3f;

    public static readonly TheoryData<DType> Types =
        new(DType.IQ2_XXS, DType.IQ2_XS, DType.IQ3_XXS, DType.IQ3_S, DType.IQ1_S, DType.IQ1_M);

    [Theory]
    [MemberData(nameof(Types))]
    public async Task Llama_cpp_iq_file_matches_llama_cpp_at_every_position(DType type)
    {
        using var f = Fixture(type, out var decoded, out var names);
        // Every matrix really is in the type: the experts, the attention projections, the embeddings and the head.
        foreach (var name in new[] { "blk.0.ffn_gate_exps.weight", "blk.1.ffn_down_exps.weight", "blk.0.attn_q.weight", "token_embd.weight", "output.weight" })
            Assert.Contains(name, names);
        Assert.All(f.Manifest.ExpertGrids, g => Assert.Equal(type.Name(), g.DType));

        var tokens = ModelFixture.Tokens(16, f.Spec.Vocab);
        var expected = LlamaLogits(f.SourcePath, tokens);
        using var session = await InferenceSession.OpenAsync(f.Catalog, "m", new PageStoreOptions { RamBudgetBytes = 64 << 20 });
        var actual = await session.LogitsAsync(tokens, allPositions: true);

        var f32Activations = WorstRelative(expected, LlamaLogits(decoded, tokens));
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{type.Name()}: worst |Δlogit| / max |logit| {WorstRelative(expected, actual):G2}; with f32 activations {f32Activations:G3}");
        LlamaCppDifferentialTests.AssertClose(expected, actual, type.Name(), Tolerance);
        for (var p = 0; p < expected.Length; p++)
            Assert.True(VectorOps.ArgMax(expected[p]) == VectorOps.ArgMax(actual[p]), $"{type.Name()} position {p}: argmax differs");
        Assert.True(f32Activations > 2 * Tolerance,
            $"{type.Name()}: f32 activations move the logits by only {f32Activations:G3}, too little for the bound to see the Q8_K path");
    }

    /// <summary>The 256-wide synthetic Mixtral with every matrix quantised to <paramref name="type"/> by ggml, converted
    /// by vib3; <paramref name="decoded"/> is its f32 twin, <paramref name="names"/> the quantised tensors.</summary>
    internal static ModelFixture Fixture(DType type, out string decoded, out IReadOnlyCollection<string> names)
    {
        var spec = ModelFixture.Small(ModelFamily.Mixtral, DType.F32) with { Dim = 256, ExpertHidden = 256, SharedExpertHidden = 256 };
        string? twin = null;
        IReadOnlyCollection<string> quantisedNames = [];
        var f = new ModelFixture(spec, "gguf", pageRows: 256, rewrite: f32 =>
        {
            var quantised = Path.ChangeExtension(f32, $"{type.Name()}.gguf");
            twin = Path.ChangeExtension(f32, $"{type.Name()}-decoded.gguf");
            quantisedNames = GgufRewrite.Requantise(f32, quantised, twin, type);
            return quantised;
        });
        (decoded, names) = (twin!, quantisedNames);
        return f;
    }

    private static float[][] LlamaLogits(string file, int[] tokens)
    {
        using var llama = LlamaCppModel.Load(file);
        return llama.Logits(tokens);
    }

    private static double WorstRelative(float[][] expected, float[][] actual)
    {
        var worst = 0.0;
        for (var p = 0; p < expected.Length; p++)
        {
            var scale = expected[p].Max(MathF.Abs);
            for (var i = 0; i < expected[p].Length; i++) worst = Math.Max(worst, Math.Abs(expected[p][i] - actual[p][i]) / scale);
        }
        return worst;
    }
}
