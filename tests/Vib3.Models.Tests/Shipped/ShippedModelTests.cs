using System.Text;
using LLama;
using LLama.Native;
using Vib3.LlamaCpp;
using Vib3.Models.Tests.Forward;
using Vib3.Models.Tokenization;

namespace Vib3.Models.Tests.Shipped;

/// <summary>The shipped trained model agrees three ways on the reference tokens: vib3 against transformers'
/// float32 logits, llama.cpp on the GGUF export against vib3, and vib3 on the GGUF export against vib3 on the HF
/// folder; llama.cpp's tokenizer on the export agrees with vib3's on the HF tokenizer.json.</summary>
public sealed class ShippedModelTests(ShippedModelFixture model, ITestOutputHelper output) : IClassFixture<ShippedModelFixture>
{
    /// <summary>The forward-pass issue's bound: max |Δlogit| ≤ 1e-4 · max |logit| at every position.</summary>
    private const float Tolerance = LlamaCppDifferentialTests.Tolerance;

    /// <summary>English with what GPT-2's regex treats specially: contractions, digits, punctuation runs,
    /// runs of spaces, tabs and newlines, non-ASCII letters and a character outside the BMP.</summary>
    public static readonly TheoryData<string> Sentences =
    [
        "Initializes a new instance of the String class.",
        "Returns the number of elements; it's O(1) and doesn't throw.",
        "Gets or sets the value at index 42 (zero-based), e.g. list[3] == 7.",
        "  Two  spaces,\ttabs\tand\nnew lines\n\n  end with spaces   ",
        "Naïve café résumé — “quoted” text, 3.14159 and 1,000,000 items!!! 🙂",
    ];

    [Fact]
    public async Task Vib3_matches_transformers_reference_logits()
    {
        var actual = await model.Vib3Logits("hf");
        var (abs, rel) = LogitAgreement.Worst(model.ReferenceLogits, actual);
        output.WriteLine($"vib3 vs transformers: max |Δlogit| {abs:G4}, max relative {rel:G4}");
        Assert.True(rel <= Tolerance, $"max |Δlogit| / max |logit| = {rel:G4} > {Tolerance}");
        LogitAgreement.SameArgmax(model.ReferenceLogits, actual);
    }

    [Fact]
    public async Task Llama_cpp_on_the_exported_gguf_matches_vib3()
    {
        var expected = await model.Vib3Logits("hf");
        float[][] actual;
        using (var llama = LlamaCppModel.Load(model.GgufF32))
            actual = llama.Logits(model.Tokens);
        var (abs, rel) = LogitAgreement.Worst(expected, actual);
        output.WriteLine($"llama.cpp (f32 export) vs vib3: max |Δlogit| {abs:G4}, max relative {rel:G4}");
        Assert.True(rel <= Tolerance, $"max |Δlogit| / max |logit| = {rel:G4} > {Tolerance}");
        LogitAgreement.SameArgmax(expected, actual);
    }

    [Fact]
    public async Task Llama_cpp_on_the_bf16_export_differs_by_activation_rounding_only()
    {
        var expected = await model.Vib3Logits("hf");
        float[][] actual;
        using (var llama = LlamaCppModel.Load(model.GgufBf16))
            actual = llama.Logits(model.Tokens);
        var (abs, rel) = LogitAgreement.Worst(expected, actual);
        output.WriteLine($"llama.cpp (bf16 export) vs vib3: max |Δlogit| {abs:G4}, max relative {rel:G4}");
        // ggml's CPU product of bf16 weights rounds the activations to bf16 first (8 significant bits).
        Assert.True(rel <= BF16ActivationTolerance, $"max |Δlogit| / max |logit| = {rel:G4} > {BF16ActivationTolerance}");
    }

    private const float BF16ActivationTolerance = 0.02f;

    [Fact]
    public async Task Vib3_on_the_exported_gguf_matches_vib3_on_the_hf_folder()
    {
        var hf = await model.Vib3Logits("hf");
        var gguf = await model.Vib3Logits("gguf");
        var (abs, rel) = LogitAgreement.Worst(hf, gguf);
        output.WriteLine($"vib3 on the gguf vs vib3 on the hf folder: max |Δlogit| {abs:G4}, max relative {rel:G4}");
        // The same bf16 bytes; only the order of head dimensions inside attention's dot products differs.
        Assert.True(rel <= 1e-5f, $"max |Δlogit| / max |logit| = {rel:G4}");
        LogitAgreement.SameArgmax(hf, gguf);
    }

    [Fact]
    public void Vib3_tokenizes_the_reference_text_as_transformers_did()
    {
        var tok = TokenizerLoader.LoadHf(ShippedModelFixture.CheckpointDir);
        Assert.Equal(model.Tokens, tok.Encode(model.Text, addBos: tok.AddBosByDefault));
    }

    [Theory]
    [MemberData(nameof(Sentences))]
    public void Llama_cpp_tokenizes_and_detokenizes_like_vib3(string text)
    {
        var vib3 = TokenizerLoader.LoadHf(ShippedModelFixture.CheckpointDir);
        var expected = vib3.Encode(text, addBos: vib3.AddBosByDefault);

        using var _ = LlamaCppModel.Load(model.GgufBf16, contextLength: 8); // installs the quiet log first
        var p = LLamaModelParams.Default();
        p.vocab_only = true;
        using var handle = SafeLlamaModelHandle.LoadFromFile(model.GgufBf16, p);
        var actual = handle.Tokenize(text, true, false, Encoding.UTF8).Select(t => (int)t).ToArray();
        Assert.Equal(expected, actual);

        var decoder = new StreamingTokenDecoder(Encoding.UTF8, handle);
        foreach (var id in actual.Skip(1)) decoder.Add(id);
        Assert.Equal(text, decoder.Read());
        Assert.Equal(text, vib3.Decode(expected.Skip(1).ToList()));
    }
}
