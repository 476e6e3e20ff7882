using Vib3.Core;
using Vib3.LlamaCpp;
using Vib3.Synth;
using Vib3.Kernels;

namespace Vib3.Models.Tests.LlamaCpp;

/// <summary>llama.cpp (through LLamaSharp) loads vib3's synthetic GGUF files of every family and gives
/// usable logits, greedy tokens and timings: the reference the forward-pass tests compare against.</summary>
public sealed class LlamaCppModelTests(LlamaCppSyntheticFiles files) : IClassFixture<LlamaCppSyntheticFiles>
{
    private static readonly int[] Tokens = [1, 5, 42, 300, 17, 260, 99, 3, 128, 7, 311, 64, 2, 250, 33, 180];

    public static TheoryData<ModelFamily> Families => [.. Enum.GetValues<ModelFamily>()];

    public static TheoryData<ModelFamily, DType> FamiliesByStoredType()
    {
        var data = new TheoryData<ModelFamily, DType>();
        foreach (var f in Enum.GetValues<ModelFamily>())
            foreach (var t in new[] { DType.F16, DType.BF16, DType.Q8_0 })
                data.Add(f, t);
        return data;
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void F32_file_gives_finite_logits_at_every_position_and_greedy_agrees(ModelFamily family)
    {
        using var model = LlamaCppModel.Load(files.File(family, DType.F32));
        var spec = LlamaCppSyntheticFiles.Spec(family, DType.F32);
        Assert.Equal(spec.Vocab, model.VocabSize);

        var logits = model.Logits(Tokens);

        Assert.Equal(Tokens.Length, logits.Length);
        Assert.All(logits, row =>
        {
            Assert.Equal(spec.Vocab, row.Length);
            Assert.All(row, v => Assert.True(float.IsFinite(v), $"non-finite logit {v}"));
            Assert.True(row.Max() > row.Min(), "a row of identical logits");
        });
        // Causal attention: positions see different prefixes, so no two rows are the same.
        Assert.NotEqual(logits[0], logits[1]);

        var greedy = model.Greedy(Tokens, 8);
        Assert.Equal(8, greedy.Length);
        Assert.All(greedy, t => Assert.InRange(t, 0, spec.Vocab - 1));
        Assert.Equal(VectorOps.ArgMax(logits[^1]), greedy[0]);
        Assert.Equal(greedy[0], model.Greedy(Tokens, 1)[0]);
    }

    [Theory]
    [MemberData(nameof(FamiliesByStoredType))]
    public void Other_stored_types_load_and_stay_close_to_f32(ModelFamily family, DType dtype)
    {
        float[] reference, logits;
        using (var f32 = LlamaCppModel.Load(files.File(family, DType.F32)))
            reference = f32.Logits(Tokens)[^1];
        using (var model = LlamaCppModel.Load(files.File(family, dtype)))
            logits = model.Logits(Tokens)[^1];

        Assert.All(logits, v => Assert.True(float.IsFinite(v)));
        var maxDiff = reference.Zip(logits, (a, b) => Math.Abs(a - b)).Max();
        // The weights differ by their rounding only (bf16 is the coarsest: 8 significant bits).
        Assert.True(maxDiff < 0.05f, $"{family} {dtype}: max |Δlogit| {maxDiff} against f32");
        Assert.True(maxDiff > 0 || dtype == DType.F32);
    }

    [Fact]
    public void Logits_are_deterministic_and_each_call_is_a_fresh_sequence()
    {
        using var model = LlamaCppModel.Load(files.File(ModelFamily.Qwen3Moe, DType.F32));
        var first = model.Logits(Tokens);
        _ = model.Greedy([4, 8, 15, 16, 23, 42], 5);          // leaves other positions in the cache
        var second = model.Logits(Tokens);

        Assert.Equal(first.Length, second.Length);
        for (var i = 0; i < first.Length; i++) Assert.Equal(first[i], second[i]);
        Assert.Equal(model.Greedy(Tokens, 6), model.Greedy(Tokens, 6));
    }

    [Fact]
    public void Logits_of_a_prefix_match_the_longer_sequence()
    {
        using var model = LlamaCppModel.Load(files.File(ModelFamily.Mixtral, DType.F32));
        var full = model.Logits(Tokens);
        var prefix = model.Logits(Tokens[..5]);
        for (var i = 0; i < prefix.Length; i++)
        {
            var maxDiff = prefix[i].Zip(full[i], (a, b) => Math.Abs(a - b)).Max();
            Assert.True(maxDiff < 1e-4f, $"position {i}: max |Δlogit| {maxDiff}");
        }
    }

    [Fact]
    public void Greedy_continues_the_prompt_as_one_argmax_step_per_token()
    {
        using var model = LlamaCppModel.Load(files.File(ModelFamily.Olmoe, DType.F32));
        var greedy = model.Greedy(Tokens, 4);
        var extended = Tokens.Concat(greedy[..3]).ToArray();
        var logits = model.Logits(extended);
        for (var n = 0; n < 4; n++) Assert.Equal(greedy[n], VectorOps.ArgMax(logits[Tokens.Length - 1 + n]));
    }

    [Fact]
    public void Bench_reports_positive_rates_and_can_repeat()
    {
        using var model = LlamaCppModel.Load(files.File(ModelFamily.Qwen2Moe, DType.F32), threads: 2, contextLength: 128);
        for (var i = 0; i < 2; i++)
        {
            var (prefill, decode) = model.Bench(64, 16);
            Assert.True(double.IsFinite(prefill) && prefill > 0, $"prefill {prefill}");
            Assert.True(double.IsFinite(decode) && decode > 0, $"decode {decode}");
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Bench(120, 16));
    }

    [Fact]
    public void Refused_file_says_why_without_printing()
    {
        // Grouped-query OLMoE: k_norm has kv_heads·head_dim entries, llama.cpp's olmoe loader wants n_embd.
        var file = Path.Combine(files.Folder, "olmoe-gqa.gguf");
        Directory.CreateDirectory(files.Folder);
        SyntheticModelGenerator.WriteGguf(LlamaCppSyntheticFiles.Spec(ModelFamily.Olmoe, DType.F32) with { KvHeads = 2 }, file);
        var e = Assert.Throws<InvalidOperationException>(() => LlamaCppModel.Load(file));
        Assert.Contains("attn_k_norm", e.Message);
    }

    [Fact]
    public void Token_ids_are_checked()
    {
        using var model = LlamaCppModel.Load(files.File(ModelFamily.Mixtral, DType.F32), contextLength: 32);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Logits([1, model.VocabSize]));
        Assert.Throws<ArgumentException>(() => model.Logits([]));
        Assert.Throws<ArgumentException>(() => model.Logits(new int[33]));
        Assert.Throws<ArgumentException>(() => model.Greedy(new int[30], 4));
        Assert.Equal(3, model.Greedy(new int[30], 3).Length);
    }
}
