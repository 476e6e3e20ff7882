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
        var tokens = ModelFixture.Tokens(ForwardPass.PrefillBatch + 13, spec.Vocab);
        var options = new PageStoreOptions { RamBudgetBytes = 64 << 20 };

        using var batched = await InferenceSession.OpenAsync(f.Catalog, "m", options);
        var a = await batched.LogitsAsync(tokens, allPositions: true);

        using var single = await InferenceSession.OpenAsync(f.Catalog, "m", options);
        for (var p = 0; p < tokens.Length; p++)
        {
            var b = await single.Forward.DecodeAsync(tokens[p], single.Cache);
            var scale = b.Max(MathF.Abs);
            var worst = a[p].Zip(b, (x, y) => MathF.Abs(x - y)).Max();
            Assert.True(worst <= 1e-5f * scale, $"{family} position {p}: prefill vs decode max |Δ| {worst:G4} (max |logit| {scale:G4})");
        }
        Assert.Equal(tokens.Length, batched.Cache.Length);
    }
}
