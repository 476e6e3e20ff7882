using Vib3.Convert.Formats;
using Vib3.Core;
using Vib3.Synth;

namespace Vib3.Formats.Tests;

/// <summary>The HF folder and the GGUF file of one spec hold the same weights once the GGUF layout is undone.</summary>
public class SameWeightsTests
{
    public static TheoryData<ModelFamily, DType> Cases()
    {
        var d = new TheoryData<ModelFamily, DType>();
        foreach (var f in Specs.Families)
            foreach (var t in new[] { DType.F32, DType.BF16, DType.Q8_0 })
                d.Add(f, t);
        return d;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Gguf_holds_the_hf_weights(ModelFamily family, DType ggufType)
    {
        using var tmp = new TempFolder();
        var hfSpec = Specs.Small(family, ggufType == DType.Q8_0 ? DType.F32 : ggufType);
        var ggufSpec = hfSpec with { DType = ggufType };
        SyntheticModelGenerator.WriteHf(hfSpec, tmp.Sub("hf"));
        SyntheticModelGenerator.WriteGguf(ggufSpec, tmp.Sub("m.gguf"));
        using var hf = CheckpointReader.Open(tmp.Sub("hf"));
        using var gg = CheckpointReader.Open(tmp.Sub("m.gguf"));

        var covered = new HashSet<string>();
        foreach (var g in SyntheticModelGenerator.GgufTensors(ggufSpec))
        {
            var gt = gg.Tensors[g.Name];
            var all = Specs.Decode(gt.DType, gg.ReadAll(g.Name), gt.ElementCount);
            var per = all.Length / g.Sources.Count;
            for (var s = 0; s < g.Sources.Count; s++)
            {
                var ht = hf.Tensors[g.Sources[s]];
                Assert.True(covered.Add(ht.Name));
                Assert.Equal(ht.Shape, g.Sources.Count == 1 ? gt.Shape : gt.Shape[1..]);
                var want = Specs.Decode(ht.DType, hf.ReadAll(ht.Name), ht.ElementCount);
                var got = all.AsSpan(s * per, per).ToArray();
                if (g.PermuteHeads > 0)
                {
                    Assert.Equal(ModelFamily.Mixtral, family);
                    var un = new float[got.Length];
                    LlamaQkPermutation.Unpermute<float>(got, un, (int)ht.Shape[0], (int)ht.Shape[1], g.PermuteHeads);
                    got = un;
                }
                if (gt.DType == DType.Q8_0)
                {
                    for (var i = 0; i < want.Length; i += 32)
                    {
                        var amax = want.AsSpan(i, 32).ToArray().Max(MathF.Abs);
                        for (var j = i; j < i + 32; j++)
                            // half a quantization step, plus the f16 rounding of the block scale (up to 127 steps of it)
                            Assert.True(MathF.Abs(want[j] - got[j]) <= amax / 127f * 0.5f + amax / 1024f + 1e-7f,
                                $"{g.Name}[{j}]: {got[j]} vs {want[j]}");
                    }
                }
                else
                {
                    Assert.Equal(want, got);
                }
            }
        }
        Assert.Equal(hf.Tensors.Count, covered.Count);
    }

    [Fact]
    public void Llama_q_and_k_are_permuted_and_others_are_not()
    {
        var spec = Specs.Small(ModelFamily.Mixtral, DType.F32);
        var byName = SyntheticModelGenerator.GgufTensors(spec).ToDictionary(t => t.Name);
        Assert.Equal(spec.Heads, byName["blk.0.attn_q.weight"].PermuteHeads);
        Assert.Equal(spec.KvHeads, byName["blk.0.attn_k.weight"].PermuteHeads);
        Assert.Equal(0, byName["blk.0.attn_v.weight"].PermuteHeads);
        foreach (var f in new[] { ModelFamily.Qwen2Moe, ModelFamily.Qwen3Moe, ModelFamily.Olmoe })
            Assert.All(SyntheticModelGenerator.GgufTensors(Specs.Small(f, DType.F32)), t => Assert.Equal(0, t.PermuteHeads));

        // numpy: w.reshape(n_head, 2, hd/2, cols).swapaxes(1, 2).reshape(w.shape), head size 8:
        // HF rows 0..3 are the first halves, 4..7 the second halves; GGUF interleaves them.
        int[] ggufRowOfHf = Enumerable.Range(0, 8).Select(r => LlamaQkPermutation.GgufRow(r, 16, 2)).ToArray();
        Assert.Equal(new[] { 0, 2, 4, 6, 1, 3, 5, 7 }, ggufRowOfHf);
        Assert.Equal(9, LlamaQkPermutation.GgufRow(12, 16, 2));
    }
}
