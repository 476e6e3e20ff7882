using Vib3.Convert.Formats;
using Vib3.Core;
using Vib3.Synth;

namespace Vib3.Formats.Tests;

public class RoundTripTests
{
    public static TheoryData<ModelFamily, DType> HfCases()
    {
        var d = new TheoryData<ModelFamily, DType>();
        foreach (var f in Specs.Families)
            foreach (var t in new[] { DType.F32, DType.F16, DType.BF16 })
                d.Add(f, t);
        return d;
    }

    public static TheoryData<ModelFamily, DType> GgufCases()
    {
        var d = new TheoryData<ModelFamily, DType>();
        foreach (var f in Specs.Families)
            foreach (var t in new[] { DType.F32, DType.F16, DType.BF16, DType.Q8_0 })
                d.Add(f, t);
        return d;
    }

    [Theory]
    [MemberData(nameof(HfCases))]
    public void Hf_checkpoint_reads_back_exactly(ModelFamily family, DType dtype)
    {
        using var tmp = new TempFolder();
        var spec = Specs.Small(family, dtype);
        var folder = tmp.Sub("hf");
        SyntheticModelGenerator.WriteHf(spec, folder);
        Assert.True(File.Exists(Path.Combine(folder, "config.json")));
        Assert.True(File.Exists(Path.Combine(folder, "tokenizer.json")));

        using var r = CheckpointReader.Open(folder);
        Assert.IsType<SafetensorsCheckpoint>(r);
        Assert.Equal("safetensors", r.Format);
        var expected = SyntheticModelGenerator.HfTensors(spec);
        Assert.Equal(expected.Select(t => t.Name).Order(StringComparer.Ordinal), r.Tensors.Keys.Order(StringComparer.Ordinal));
        foreach (var e in expected)
        {
            var t = r.Tensors[e.Name];
            Assert.Equal(e.Shape, t.Shape);
            Assert.Equal(dtype, t.DType);
            Assert.Equal(SyntheticModelGenerator.HfBytes(spec, e.Name), r.ReadAll(e.Name));
        }
    }

    [Theory]
    [MemberData(nameof(GgufCases))]
    public void Gguf_file_reads_back_exactly(ModelFamily family, DType dtype)
    {
        using var tmp = new TempFolder();
        var spec = Specs.Small(family, dtype);
        var file = tmp.Sub("m.gguf");
        SyntheticModelGenerator.WriteGguf(spec, file);

        using var r = CheckpointReader.Open(file);
        var g = Assert.IsType<GgufCheckpoint>(r);
        Assert.Equal("gguf", r.Format);
        Assert.Equal(3u, g.Version);
        var expected = SyntheticModelGenerator.GgufTensors(spec);
        Assert.Equal(expected.Select(t => t.Name), g.TensorOrder);
        foreach (var e in expected)
        {
            var t = r.Tensors[e.Name];
            Assert.Equal(e.Shape, t.Shape);
            Assert.Equal(e.DType, t.DType);
            Assert.Equal(0, (t.DataOffset - g.DataStart) % 32);
            Assert.Equal(SyntheticModelGenerator.GgufBytes(spec, e.Name), r.ReadAll(e.Name));
        }
        // llama.cpp keeps norms, biases and routers in F32; matrices take the requested type.
        Assert.All(expected.Where(e => e.Kind != SyntheticTensorKind.Matrix), e => Assert.Equal(DType.F32, e.DType));
        Assert.Equal(dtype, r.Tensors["blk.0.ffn_gate_exps.weight"].DType);
        Assert.Equal(dtype, r.Tensors["token_embd.weight"].DType);
    }

    [Fact]
    public void Q8_0_falls_back_to_f16_for_rows_that_are_not_whole_blocks()
    {
        var spec = Specs.Small(ModelFamily.Mixtral, DType.Q8_0) with { ExpertHidden = 80 };
        var byName = SyntheticModelGenerator.GgufTensors(spec).ToDictionary(t => t.Name);
        Assert.Equal(DType.Q8_0, byName["blk.0.ffn_gate_exps.weight"].DType); // rows of dim 64
        Assert.Equal(DType.F16, byName["blk.0.ffn_down_exps.weight"].DType);  // rows of 80
        using var tmp = new TempFolder();
        SyntheticModelGenerator.WriteGguf(spec, tmp.Sub("m.gguf"));
        using var r = GgufCheckpoint.Open(tmp.Sub("m.gguf"));
        Assert.Equal(DType.F16, r.Tensors["blk.0.ffn_down_exps.weight"].DType);
    }

    [Fact]
    public void Generation_is_deterministic_and_seed_dependent()
    {
        var spec = Specs.Small(ModelFamily.Olmoe, DType.F32);
        var a = SyntheticModelGenerator.Values(spec, "model.layers.1.mlp.experts.3.up_proj.weight");
        var b = SyntheticModelGenerator.Values(spec, "model.layers.1.mlp.experts.3.up_proj.weight");
        var c = SyntheticModelGenerator.Values(spec with { Seed = 12 }, "model.layers.1.mlp.experts.3.up_proj.weight");
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.InRange(a.Average(), -0.005, 0.005);
        Assert.InRange(Math.Sqrt(a.Average(x => x * x)), 0.015, 0.025);
        var norm = SyntheticModelGenerator.Values(spec, "model.layers.0.input_layernorm.weight");
        Assert.All(norm, x => Assert.InRange(x, 0.9f, 1.1f));
        // Pinned so a change to the generator is noticed: checkpoints must stay reproducible.
        Assert.Equal(0xa757c3bd1e05ea66UL, SynthRandom.ForTensor(1, "x").NextUInt64());
    }

    [Fact]
    public void Sharded_hf_checkpoint_reads_through_the_index()
    {
        using var tmp = new TempFolder();
        var spec = Specs.Small(ModelFamily.Qwen2Moe, DType.BF16) with { Shards = 3 };
        var folder = tmp.Sub("hf");
        SyntheticModelGenerator.WriteHf(spec, folder);
        Assert.True(File.Exists(Path.Combine(folder, "model.safetensors.index.json")));
        Assert.Equal(3, Directory.GetFiles(folder, "model-*-of-00003.safetensors").Length);
        Assert.False(File.Exists(Path.Combine(folder, "model.safetensors")));

        using var r = SafetensorsCheckpoint.Open(folder);
        Assert.Equal(3, r.Files.Count);
        var expected = SyntheticModelGenerator.HfTensors(spec);
        Assert.Equal(expected.Count, r.Tensors.Count);
        Assert.Equal(3, r.Tensors.Values.Select(t => t.FilePath).Distinct().Count());
        foreach (var e in expected)
            Assert.Equal(SyntheticModelGenerator.HfBytes(spec, e.Name), r.ReadAll(e.Name));
        Assert.Equal("vib3-synth", r.Metadata["generator"]);
    }

    [Fact]
    public void Rewriting_a_folder_with_fewer_shards_leaves_no_stale_files()
    {
        using var tmp = new TempFolder();
        var spec = Specs.Small(ModelFamily.Mixtral, DType.F32);
        var folder = tmp.Sub("hf");
        SyntheticModelGenerator.WriteHf(spec with { Shards = 2 }, folder);
        SyntheticModelGenerator.WriteHf(spec, folder);
        Assert.Single(Directory.GetFiles(folder, "*.safetensors"));
        using var r = SafetensorsCheckpoint.Open(folder);
        Assert.Equal(SyntheticModelGenerator.HfTensors(spec).Count, r.Tensors.Count);
    }

    [Fact]
    public void Partial_and_parallel_reads_agree_with_whole_reads()
    {
        using var tmp = new TempFolder();
        var spec = Specs.Small(ModelFamily.Mixtral, DType.F16);
        SyntheticModelGenerator.WriteGguf(spec, tmp.Sub("m.gguf"));
        using var r = CheckpointReader.Open(tmp.Sub("m.gguf"));
        var t = r.Tensors["blk.1.ffn_up_exps.weight"];
        var whole = r.ReadAll(t.Name);
        var parts = new byte[whole.Length];
        const int chunk = 1000;
        Parallel.For(0, (whole.Length + chunk - 1) / chunk, i =>
        {
            var n = Math.Min(chunk, whole.Length - i * chunk);
            r.Read(t, i * chunk, parts.AsSpan(i * chunk, n));
        });
        Assert.Equal(whole, parts);
        Assert.Throws<ArgumentOutOfRangeException>(() => r.Read(t, t.ByteLength - 1, new byte[2]));
    }

    [Fact]
    public void Safetensors_writer_output_has_aligned_json_header()
    {
        using var tmp = new TempFolder();
        var w = new SafetensorsWriter();
        w.Add("a", DType.F32, [2, 3], new byte[24]);
        w.Add("b", DType.BF16, [5], new byte[10]);
        w.Write(tmp.Path);
        var bytes = File.ReadAllBytes(tmp.Sub("model.safetensors"));
        var n = BitConverter.ToInt64(bytes, 0);
        Assert.Equal(0, (8 + n) % 8);
        Assert.Equal(8 + n + 34, bytes.Length);
        using var r = SafetensorsCheckpoint.Open(tmp.Sub("model.safetensors"));
        Assert.Equal(new long[] { 2, 3 }, r.Tensors["a"].Shape);
        Assert.Equal(8 + n + 24, r.Tensors["b"].DataOffset);
    }
}
