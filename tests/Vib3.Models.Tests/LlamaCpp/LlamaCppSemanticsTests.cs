using Vib3.Core;
using Vib3.LlamaCpp;
using Vib3.Synth;

namespace Vib3.Models.Tests.LlamaCpp;

/// <summary>Pins what llama.cpp computes for each family by matching it against a plain reference, and shows
/// each difference between the families matters (the wrong choice misses by far more than rounding):
/// top-k renormalisation (llama, qwen3moe yes; qwen2moe, olmoe no), q/k norm (qwen3moe per head, olmoe over
/// the whole projection), and that llama.cpp's NORM RoPE on the converter's permuted llama Q/K equals
/// rotate-half on the HF weights.</summary>
public sealed class LlamaCppSemanticsTests(LlamaCppSyntheticFiles files) : IClassFixture<LlamaCppSyntheticFiles>
{
    private static readonly int[] Tokens = [1, 5, 42, 300, 17, 260, 99, 3];
    private const float Match = 1e-5f, Miss = 1e-3f;

    /// <summary>deepseek2 has its own reference and semantics tests (<see cref="LlamaCppDeepseek2SemanticsTests"/>).</summary>
    public static TheoryData<ModelFamily> Families => [.. Enum.GetValues<ModelFamily>().Where(f => f != ModelFamily.Deepseek2)];

    [Theory]
    [MemberData(nameof(Families))]
    public void Llama_cpp_matches_the_reference_with_the_familys_choices(ModelFamily family)
    {
        var spec = LlamaCppSyntheticFiles.Spec(family, DType.F32);
        float[][] actual;
        using (var model = LlamaCppModel.Load(files.File(family, DType.F32)))
            actual = model.Logits(Tokens);

        var choices = NaiveMoeReference.LlamaCppOptions(family);
        Assert.True(MaxDiff(NaiveMoeReference.Logits(spec, Tokens, choices), actual) < Match);

        var flipped = choices with { RenormalizeTopK = !choices.RenormalizeTopK };
        Assert.True(MaxDiff(NaiveMoeReference.Logits(spec, Tokens, flipped), actual) > Miss, "top-k renormalisation makes no difference");
        if (family == ModelFamily.Olmoe)
        {
            var perHead = choices with { QkNorm = NaiveMoeReference.QkNorm.PerHead };
            // Olmoe's norm weights have qDim entries; per head uses the first head's slice only for this check.
            Assert.True(MaxDiff(NaiveMoeReference.Logits(spec, Tokens, perHead), actual) > Miss, "olmoe q/k norm width makes no difference");
        }
    }

    private static float MaxDiff(float[][] a, float[][] b) =>
        a.Zip(b, (x, y) => x.Zip(y, (p, q) => Math.Abs(p - q)).Max()).Max();
}
