using System.Text.Json;
using Vib3.Convert.Formats;
using Vib3.Core;
using Vib3.Synth;

namespace Vib3.Formats.Tests;

public class MetadataTests
{
    [Theory]
    [InlineData(ModelFamily.Mixtral, "llama", "MixtralForCausalLM", "mixtral")]
    [InlineData(ModelFamily.Qwen2Moe, "qwen2moe", "Qwen2MoeForCausalLM", "qwen2_moe")]
    [InlineData(ModelFamily.Qwen3Moe, "qwen3moe", "Qwen3MoeForCausalLM", "qwen3_moe")]
    [InlineData(ModelFamily.Olmoe, "olmoe", "OlmoeForCausalLM", "olmoe")]
    public void Config_and_gguf_metadata_use_the_real_keys(ModelFamily family, string arch, string hfArch, string modelType)
    {
        using var tmp = new TempFolder();
        var spec = Specs.Small(family, DType.BF16);
        SyntheticModelGenerator.WriteHf(spec, tmp.Sub("hf"));
        SyntheticModelGenerator.WriteGguf(spec, tmp.Sub("m.gguf"));

        using var config = JsonDocument.Parse(File.ReadAllText(tmp.Sub("hf/config.json")));
        var c = config.RootElement;
        Assert.Equal(hfArch, c.GetProperty("architectures")[0].GetString());
        Assert.Equal(modelType, c.GetProperty("model_type").GetString());
        Assert.Equal(spec.Dim, c.GetProperty("hidden_size").GetInt32());
        Assert.Equal(spec.Layers, c.GetProperty("num_hidden_layers").GetInt32());
        Assert.Equal(spec.HeadDim, c.GetProperty("head_dim").GetInt32());
        Assert.Equal(spec.Experts, c.GetProperty(family == ModelFamily.Mixtral ? "num_local_experts" : "num_experts").GetInt32());
        Assert.Equal(spec.ExpertHidden, c.GetProperty(family is ModelFamily.Mixtral or ModelFamily.Olmoe ? "intermediate_size" : "moe_intermediate_size").GetInt32());
        Assert.Equal("bfloat16", c.GetProperty("torch_dtype").GetString());
        Assert.False(c.GetProperty("tie_word_embeddings").GetBoolean());

        using var g = GgufCheckpoint.Open(tmp.Sub("m.gguf"));
        Assert.Equal(arch, g.Architecture);
        Assert.Equal(32u, g.Alignment);
        Assert.Equal((ulong)spec.Layers, g.GetUInt($"{arch}.block_count"));
        Assert.Equal((ulong)spec.Dim, g.GetUInt($"{arch}.embedding_length"));
        Assert.Equal((ulong)spec.Context, g.GetUInt($"{arch}.context_length"));
        Assert.Equal((ulong)spec.Heads, g.GetUInt($"{arch}.attention.head_count"));
        Assert.Equal((ulong)spec.KvHeads, g.GetUInt($"{arch}.attention.head_count_kv"));
        Assert.Equal((ulong)spec.Experts, g.GetUInt($"{arch}.expert_count"));
        Assert.Equal((ulong)spec.TopK, g.GetUInt($"{arch}.expert_used_count"));
        Assert.Equal(spec.RopeTheta, g.GetFloat($"{arch}.rope.freq_base"));
        Assert.Equal(spec.NormEps, g.GetFloat($"{arch}.attention.layer_norm_rms_epsilon"), 1e-9);
        Assert.Equal(32ul, g.GetUInt("general.file_type"));
        if (family == ModelFamily.Mixtral)
        {
            Assert.Equal((ulong)spec.ExpertHidden, g.GetUInt("llama.feed_forward_length"));
            Assert.Equal((ulong)spec.HeadDim, g.GetUInt("llama.rope.dimension_count"));
        }
        else
        {
            Assert.Equal((ulong)spec.ExpertHidden, g.GetUInt($"{arch}.expert_feed_forward_length"));
        }
        if (family == ModelFamily.Qwen2Moe)
            Assert.Equal((ulong)spec.SharedExpertHidden, g.GetUInt("qwen2moe.expert_shared_feed_forward_length"));
        if (family == ModelFamily.Qwen3Moe)
            Assert.Equal(24ul, g.GetUInt("qwen3moe.attention.key_length"));
        Assert.False(g.TryGetUInt("no.such.key", out _));
        var e = Assert.Throws<Vib3Exception>(() => g.GetUInt("general.architecture"));
        Assert.Equal(SqlState.InvalidParameterValue, e.SqlState);
        Assert.Contains("general.architecture", e.Message);
        Assert.Equal(SqlState.UndefinedObject, Assert.Throws<Vib3Exception>(() => g.GetString("no.such.key")).SqlState);
    }

    [Fact]
    public void Tokenizer_is_the_same_in_both_formats()
    {
        using var tmp = new TempFolder();
        var spec = Specs.Small(ModelFamily.Qwen3Moe, DType.F32) with { Vocab = 400 };
        SyntheticModelGenerator.WriteHf(spec, tmp.Sub("hf"));
        SyntheticModelGenerator.WriteGguf(spec, tmp.Sub("m.gguf"));
        using var g = GgufCheckpoint.Open(tmp.Sub("m.gguf"));
        Assert.Equal("gpt2", g.GetString("tokenizer.ggml.model"));
        Assert.Equal("gpt-2", g.GetString("tokenizer.ggml.pre"));
        var tokens = g.GetStringArray("tokenizer.ggml.tokens");
        var types = g.GetIntArray("tokenizer.ggml.token_type");
        var merges = g.GetStringArray("tokenizer.ggml.merges");
        Assert.Equal(400, tokens.Length);
        Assert.Equal(400, types.Length);
        Assert.Equal(1ul, g.GetUInt("tokenizer.ggml.bos_token_id"));
        Assert.Equal(2ul, g.GetUInt("tokenizer.ggml.eos_token_id"));
        Assert.Equal(0ul, g.GetUInt("tokenizer.ggml.unknown_token_id"));
        Assert.Equal(GgufValueType.Int32, g.Get("tokenizer.ggml.token_type").ElementType);

        using var tj = JsonDocument.Parse(File.ReadAllText(tmp.Sub("hf/tokenizer.json")));
        var model = tj.RootElement.GetProperty("model");
        Assert.Equal("BPE", model.GetProperty("type").GetString());
        Assert.Equal("ByteLevel", tj.RootElement.GetProperty("pre_tokenizer").GetProperty("type").GetString());
        Assert.Equal("ByteLevel", tj.RootElement.GetProperty("decoder").GetProperty("type").GetString());
        var vocab = model.GetProperty("vocab").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32());
        Assert.Equal(tokens.Length, vocab.Count);
        for (var i = 0; i < tokens.Length; i++) Assert.Equal(i, vocab[tokens[i]]);
        Assert.Equal(merges, model.GetProperty("merges").EnumerateArray().Select(m => m.GetString()!).ToArray());
        Assert.True(merges.Length > 100);
        Assert.Equal("<s>", tokens[1]);
        Assert.Equal("Ġ", tokens[3 + ' ']);
        // Every merge joins two existing tokens into an existing token.
        foreach (var m in merges)
        {
            var parts = m.Split(' ');
            Assert.Equal(2, parts.Length);
            Assert.Contains(parts[0], vocab.Keys);
            Assert.Contains(parts[1], vocab.Keys);
            Assert.Contains(parts[0] + parts[1], vocab.Keys);
        }
    }

    [Fact]
    public void Large_vocab_is_padded_with_reserved_tokens()
    {
        var tok = SyntheticTokenizer.Build(5000);
        Assert.Equal(5000, tok.Count);
        Assert.Equal(tok.Count, tok.Tokens.Distinct().Count());
        Assert.StartsWith("<|reserved_", tok.Tokens[^1]);
    }

    [Fact]
    public void Gguf_reader_handles_every_value_type_including_nested_arrays()
    {
        using var tmp = new TempFolder();
        var w = new GgufWriter();
        w.AddUInt8("u8", 200);
        w.AddInt8("i8", -5);
        w.AddUInt16("u16", 60000);
        w.AddInt16("i16", -300);
        w.AddUInt32("u32", 4_000_000_000);
        w.AddInt32("i32", -7);
        w.AddFloat32("f32", 1.5f);
        w.AddBool("b", true);
        w.AddString("s", "héllo");
        w.AddUInt64("u64", ulong.MaxValue);
        w.AddInt64("i64", long.MinValue);
        w.AddFloat64("f64", Math.PI);
        w.AddFloat32Array("fa", [1f, 2.5f]);
        w.AddArray("u8a", GgufWriterType.UInt8, new byte[] { 1, 2, 3 });
        w.AddArray("f64a", GgufWriterType.Float64, new double[] { 0.5 });
        w.AddArray("ba", GgufWriterType.Bool, new[] { true, false });
        w.AddStringArray("sa", ["a", "", "ccc"]);
        w.AddTensor("t", DType.F32, [2, 2], new byte[16]);
        var file = tmp.Sub("all.gguf");
        w.Write(file);
        AppendNestedArray(file);

        using var g = GgufCheckpoint.Open(file);
        Assert.Equal(200ul, g.GetUInt("u8"));
        Assert.Equal(-5L, g.GetInt("i8"));
        Assert.Equal(60000ul, g.GetUInt("u16"));
        Assert.Equal(-300L, g.GetInt("i16"));
        Assert.Equal(4_000_000_000ul, g.GetUInt("u32"));
        Assert.Equal(-7L, g.GetInt("i32"));
        Assert.Equal(1.5, g.GetFloat("f32"));
        Assert.True(g.GetBool("b"));
        Assert.Equal("héllo", g.GetString("s"));
        Assert.Equal(ulong.MaxValue, g.GetUInt("u64"));
        Assert.Equal(long.MinValue, g.GetInt("i64"));
        Assert.Equal(Math.PI, g.GetFloat("f64"));
        Assert.Equal(new[] { 1f, 2.5f }, g.GetFloatArray("fa"));
        Assert.Equal(new long[] { 1, 2, 3 }, g.GetIntArray("u8a"));
        Assert.Equal(new[] { 0.5f }, g.GetFloatArray("f64a"));
        Assert.Equal(new[] { true, false }, (bool[])g.Get("ba").Value);
        Assert.Equal(new[] { "a", "", "ccc" }, g.GetStringArray("sa"));
        Assert.Throws<Vib3Exception>(() => g.GetUInt("i32"));
        var nested = g.Get("nested" + new string('_', 25));
        Assert.Equal(GgufValueType.Array, nested.ElementType);
        var inner = (GgufValue[])nested.Value;
        Assert.Equal(new long[] { 7, 8 }, inner[0].GetIntArray());
        Assert.Equal(new[] { "x" }, inner[1].GetStringArray());
    }

    /// <summary>The writer does not write nested arrays: splice one in right after the header (KVs may come in
    /// any order), sized to a multiple of 32 bytes so the data section stays aligned.</summary>
    private static void AppendNestedArray(string file)
    {
        var bytes = File.ReadAllBytes(file);
        var kv = new List<byte>();
        void U32(uint v) => kv.AddRange(BitConverter.GetBytes(v));
        void U64(ulong v) => kv.AddRange(BitConverter.GetBytes(v));
        void Str(string s) { U64((ulong)System.Text.Encoding.UTF8.GetByteCount(s)); kv.AddRange(System.Text.Encoding.UTF8.GetBytes(s)); }
        Str("nested"); U32(9); U32(9); U64(2);   // key, type array, element type array, 2 elements
        U32(5); U64(2); U32(7); U32(8);          // [int32: 7, 8]
        U32(8); U64(1); Str("x");                // [string: "x"]
        var padName = 96 - kv.Count;             // lengthen the key so the insert is 96 bytes
        kv.Clear();
        Str("nested" + new string('_', padName)); U32(9); U32(9); U64(2);
        U32(5); U64(2); U32(7); U32(8);
        U32(8); U64(1); Str("x");
        Assert.Equal(96, kv.Count);
        BitConverter.GetBytes(BitConverter.ToUInt64(bytes, 16) + 1).CopyTo(bytes, 16);
        File.WriteAllBytes(file, [.. bytes.AsSpan(0, 24), .. kv, .. bytes.AsSpan(24)]);
    }
}
