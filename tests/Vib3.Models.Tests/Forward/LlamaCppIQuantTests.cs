using Vib3.Core;
using Vib3.LlamaCpp;
using Vib3.Models.Inference;
using Vib3.Models.Tests.LlamaCpp;
using Vib3.Storage;
using Vib3.Synth;

namespace Vib3.Models.Tests.Forward;

/// <summary>
/// The low-bit IQ types in a whole model, against llama.cpp. The 256-wide synthetic Mixtral (every row whole 256-value
/// blocks) has each matrix quantised by ggml itself (<see cref="GgufRewrite.Requantise"/>, all-ones importance
/// matrix, as llama.cpp's file quantizer will not make these types without one). llama.cpp runs that file, and also
/// its twin holding, in f32, exactly the values vib3's dequantiser reads from those blocks; vib3 runs the twin.
/// vib3 does not yet convert these types itself (the GGUF reader and MatVec dispatch come next), so this checks the
/// decoded values inside a model, not vib3's kernels: llama.cpp on the blocks differs from llama.cpp on vib3's
/// decoding only by its rounding of activations to Q8_K (it computes IQ weights against Q8_K activations, f32 weights
/// against f32), and vib3 on the twin matches llama.cpp on the twin to the f32 bound.
/// </summary>
public sealed class LlamaCppIQuantTests
{
    public static readonly TheoryData<DType> Types =
        new(DType.IQ2_XXS, DType.IQ2_XS, DType.IQ2_S, DType.IQ3_XXS, DType.IQ3_S, DType.IQ1_S, DType.IQ1_M);

    /// <summary>
    /// llama.cpp's worst |Δlogit| / max |logit| over 16 positions between the IQ file and its f32 twin, all of it its
    /// Q8_K activation rounding (measured: iq1_m 0.0135, iq2_s 0.016, iq2_xxs 0.0158, iq3_xxs 0.0166, iq1_s 0.0169,
    /// iq2_xs 0.085, iq3_s 0.143; this synthetic model's logits are small, |logit| ≤ ~1, so the rounding shows),
    /// with room. The weights' own quantisation moves the logits at least twice as far (asserted; measured 0.39 for
    /// iq3_s, the finest type here), so a decoding that had simply kept the original weights would fail.
    /// </summary>
    private static float ActivationRounding(DType type) => type switch
    {
        DType.IQ2_XS => 0.12f,
        DType.IQ3_S => 0.18f,
        _ => 0.03f,
    };

    [Theory]
    [MemberData(nameof(Types))]
    public async Task Llama_cpp_on_the_blocks_matches_vib3_on_the_values_it_decodes(DType type)
    {
        var spec = ModelFixture.Small(ModelFamily.Mixtral, DType.F32) with { Dim = 256, ExpertHidden = 256, SharedExpertHidden = 256 };
        string original = "", quantised = "";
        IReadOnlyCollection<string> names = [];
        using var f = new ModelFixture(spec, "gguf", pageRows: 256, rewrite: f32 =>
        {
            original = f32;
            quantised = Path.ChangeExtension(f32, $"{type.Name()}.gguf");
            var decoded = Path.ChangeExtension(f32, $"{type.Name()}-decoded.gguf");
            names = GgufRewrite.Requantise(f32, quantised, decoded, type);
            return decoded;
        });
        // Every matrix really is in the type: the experts, the attention projections, the embeddings and the head.
        foreach (var name in new[] { "blk.0.ffn_gate_exps.weight", "blk.1.ffn_down_exps.weight", "blk.0.attn_q.weight", "token_embd.weight", "output.weight" })
            Assert.Contains(name, names);

        var tokens = ModelFixture.Tokens(16, f.Spec.Vocab);
        var onBlocks = LlamaLogits(quantised, tokens);
        var onDecoded = LlamaLogits(f.SourcePath, tokens);
        var onOriginal = LlamaLogits(original, tokens);
        using var session = await InferenceSession.OpenAsync(f.Catalog, "m", new PageStoreOptions { RamBudgetBytes = 64 << 20 });
        var vib3 = await session.LogitsAsync(tokens, allPositions: true);

        LlamaCppDifferentialTests.AssertClose(onDecoded, vib3, $"{type.Name()} decoded, vib3 vs llama.cpp");
        var rounding = WorstRelative(onBlocks, onDecoded);
        Assert.True(rounding <= ActivationRounding(type),
            $"{type.Name()}: llama.cpp on the blocks vs on vib3's decoding, worst |Δlogit| / max |logit| {rounding:G3} > {ActivationRounding(type)}");
        var quantisation = WorstRelative(onBlocks, onOriginal);
        TestContext.Current.TestOutputHelper?.WriteLine($"{type.Name()}: activation rounding {rounding:G3}, weight quantisation {quantisation:G3}");
        Assert.True(quantisation > 2 * ActivationRounding(type),
            $"{type.Name()}: the weights' quantisation moves the logits by only {quantisation:G3}, too little for this check to see a misread");
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
