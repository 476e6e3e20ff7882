using Vib3.Core;
using Vib3.LlamaCpp;
using Vib3.Models.Inference;
using Vib3.Storage;
using Vib3.Synth;
using Vib3.Kernels;

namespace Vib3.Models.Tests.Forward;

/// <summary>vib3's logits against llama.cpp's on the same GGUF weights, every position, every family:
/// max |Δlogit| ≤ 1e-4 · max |logit| at f32, and 32 identical greedy tokens.</summary>
public sealed class LlamaCppDifferentialTests
{
    public const float Tolerance = 1e-4f;

    [Theory]
    [InlineData(ModelFamily.Mixtral)]
    [InlineData(ModelFamily.Qwen2Moe)]
    [InlineData(ModelFamily.Qwen3Moe)]
    [InlineData(ModelFamily.Olmoe)]
    public async Task Logits_match_llama_cpp_at_every_position(ModelFamily family)
    {
        using var f = new ModelFixture(ModelFixture.Small(family, DType.F32), "gguf", pageRows: 32);
        var tokens = ModelFixture.Tokens(24, f.Spec.Vocab);
        float[][] expected;
        using (var llama = LlamaCppModel.Load(f.SourcePath))
            expected = llama.Logits(tokens);

        using var session = await InferenceSession.OpenAsync(f.Catalog, "m", new PageStoreOptions { RamBudgetBytes = 64 << 20 });
        AssertClose(expected, await session.LogitsAsync(tokens, allPositions: true), family.ToString());
    }

    /// <summary>Every position: max |Δlogit| ≤ tolerance · max |expected logit|.</summary>
    internal static void AssertClose(float[][] expected, float[][] actual, string name, float tolerance = Tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var p = 0; p < expected.Length; p++)
        {
            var scale = expected[p].Max(MathF.Abs);
            var worst = 0f;
            for (var i = 0; i < expected[p].Length; i++) worst = MathF.Max(worst, MathF.Abs(expected[p][i] - actual[p][i]));
            Assert.True(worst <= tolerance * scale, $"{name} position {p}: max |Δlogit| {worst:G4} > {tolerance} × max |logit| {scale:G4}");
        }
    }

    [Theory]
    [InlineData(ModelFamily.Mixtral)]
    [InlineData(ModelFamily.Qwen2Moe)]
    [InlineData(ModelFamily.Qwen3Moe)]
    [InlineData(ModelFamily.Olmoe)]
    public async Task Greedy_tokens_match_llama_cpp(ModelFamily family)
    {
        using var f = new ModelFixture(ModelFixture.Small(family, DType.F32), "gguf");
        var prompt = ModelFixture.Tokens(8, f.Spec.Vocab, seed: 9);
        int[] expected;
        using (var llama = LlamaCppModel.Load(f.SourcePath))
            expected = llama.Greedy(prompt, 32);

        using var session = await InferenceSession.OpenAsync(f.Catalog, "m", new PageStoreOptions { RamBudgetBytes = 64 << 20 });
        var logits = (await session.LogitsAsync(prompt, allPositions: false))[0];
        var actual = new List<int>();
        for (var i = 0; i < 32; i++)
        {
            var next = VectorOps.ArgMax(logits);
            actual.Add(next);
            logits = await session.Forward.DecodeAsync(next, session.Cache);
        }
        Assert.Equal(expected, actual);
    }
}
