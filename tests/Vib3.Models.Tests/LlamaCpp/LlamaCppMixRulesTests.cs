using LLama.Native;
using Vib3.Convert.Formats;
using Vib3.Convert.Planning;
using Vib3.LlamaCpp;
using Vib3.Core;
using Vib3.Synth;

namespace Vib3.Models.Tests.LlamaCpp;

/// <summary>
/// <see cref="LlamaCppMix"/>'s choice for every tensor against the type llama.cpp's quantizer actually gave it, on
/// shapes the byte-level test does not reach: 16 layers (so "first 1/16" and "first 1/8" are real layers and
/// use_more_bits picks a pattern), n_head/n_head_kv = 4 (Q2_K's attn_v rule). Types only: the bytes of each type are
/// <see cref="LlamaCppMixBytesTests"/>'s subject.
/// </summary>
public sealed class LlamaCppMixRulesTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "vib3-mix-rules-" + Guid.NewGuid().ToString("N")[..12]);

    [Theory]
    [InlineData("q2_k", LLamaFtype.MOSTLY_Q2_K, 256)]
    [InlineData("q3_k_m", LLamaFtype.MOSTLY_Q3_K_M, 256)]
    [InlineData("q4_k_s", LLamaFtype.MOSTLY_Q4_K_S, 256)]
    [InlineData("q4_k_m", LLamaFtype.MOSTLY_Q4_K_M, 256)]
    [InlineData("q5_k_m", LLamaFtype.MOSTLY_Q5_K_M, 256)]
    [InlineData("iq4_xs", LLamaFtype.MOSTLY_IQ4_XS, 256)] // attn_v Q5_K (n_head/n_head_kv = 4), ffn_down Q5_K in layers 0 and 1
    [InlineData("iq4_xs", LLamaFtype.MOSTLY_IQ4_XS, 64)] // 64-wide rows: IQ4_XS falls back to IQ4_NL, Q5_K to Q5_1
    [InlineData("q3_k_m", LLamaFtype.MOSTLY_Q3_K_M, 64)]
    public void Every_tensor_gets_the_type_llama_cpp_gives_it(string mixName, LLamaFtype ftype, int width)
    {
        Directory.CreateDirectory(_dir);
        var spec = new SyntheticModelSpec
        {
            Family = ModelFamily.Mixtral, Layers = 16, Dim = width, ExpertHidden = width, Heads = 8, KvHeads = 2,
            Experts = 2, TopK = 1, Vocab = 288, Context = 64, Seed = 5, DType = DType.F32,
        };
        var f32 = Path.Combine(_dir, "model.gguf");
        SyntheticModelGenerator.WriteGguf(spec, f32);
        var quantised = Path.Combine(_dir, $"model.{mixName}.gguf");
        LlamaCppQuantizer.Quantize(f32, quantised, ftype, quantizeOutput: true);

        Assert.True(LlamaCppMix.TryParse(mixName, out var mix));
        var shape = new MixShape(spec.Layers, spec.Experts, spec.Heads, spec.KvHeads, TiedEmbeddings: false);
        var checkedTensors = 0;
        foreach (var t in GgufTensorTable.Open(quantised).Tensors.Values.Where(t => t.Shape.Length >= 2 && !t.Name.Contains("ffn_gate_inp", StringComparison.Ordinal)))
        {
            var expected = GgmlTypes.Name(t.GgmlType).ToLowerInvariant();
            Assert.True(expected == mix.TypeOf(t.Name, t.Shape[0], shape).Name(), $"{mixName}: {t.Name} is {expected} in llama.cpp's file, the rule says {mix.TypeOf(t.Name, t.Shape[0], shape).Name()}");
            checkedTensors++;
        }
        Assert.Equal(2 + 7 * spec.Layers, checkedTensors);
    }

    public void Dispose()
    {
        try { if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true); }
        catch (IOException) { }
    }
}
