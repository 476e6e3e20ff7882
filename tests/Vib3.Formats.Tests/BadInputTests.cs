using System.Text.Json.Nodes;
using Vib3.Convert.Formats;
using Vib3.Core;
using Vib3.Synth;

namespace Vib3.Formats.Tests;

/// <summary>Every malformed input fails at open with one line that names the file and the right SQLSTATE.</summary>
public sealed class BadInputTests : IDisposable
{
    private readonly TempFolder _tmp = new();
    private readonly SyntheticModelSpec _spec = Specs.Small(ModelFamily.Mixtral, DType.F32) with { Layers = 1 };

    public void Dispose() => _tmp.Dispose();

    private static Vib3Exception Fails(string state, string mustName, Func<IDisposable> open, params string[] mentions)
    {
        var e = Assert.Throws<Vib3Exception>(() => open().Dispose());
        Assert.Equal(state, e.SqlState);
        Assert.Contains(mustName, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        foreach (var m in mentions) Assert.Contains(m, e.Message, StringComparison.OrdinalIgnoreCase);
        return e;
    }

    private string Hf(int shards = 1)
    {
        var folder = _tmp.Sub($"hf{shards}");
        SyntheticModelGenerator.WriteHf(_spec with { Shards = shards }, folder);
        return folder;
    }

    private string HfFile() => Path.Combine(Hf(), "model.safetensors");

    private string Gguf(DType dtype = DType.F32)
    {
        var file = _tmp.Sub($"m-{dtype.Name()}.gguf");
        SyntheticModelGenerator.WriteGguf(_spec with { DType = dtype }, file);
        return file;
    }

    // ------------------------------------------------------------ paths

    [Fact]
    public void Missing_paths_are_undefined_objects()
    {
        var missing = _tmp.Sub("nope");
        Fails(SqlState.UndefinedObject, missing, () => CheckpointReader.Open(missing), "no such file or directory");
        Fails(SqlState.UndefinedObject, missing, () => SafetensorsCheckpoint.Open(missing));
        Fails(SqlState.UndefinedObject, missing, () => GgufCheckpoint.Open(missing));
    }

    [Fact]
    public void Folder_without_safetensors_files()
    {
        var empty = _tmp.Sub("empty");
        Directory.CreateDirectory(empty);
        File.WriteAllText(Path.Combine(empty, "config.json"), "{}");
        Fails(SqlState.UndefinedObject, empty, () => CheckpointReader.Open(empty), ".safetensors");
    }

    [Fact]
    public void Unknown_file_kind()
    {
        var f = _tmp.Sub("notes.txt");
        File.WriteAllText(f, "hello world");
        Fails(SqlState.FeatureNotSupported, f, () => CheckpointReader.Open(f));
    }

    [Fact]
    public void Any_safetensors_file_in_a_folder_is_read_when_there_is_no_model_safetensors()
    {
        var folder = Hf();
        File.Move(Path.Combine(folder, "model.safetensors"), Path.Combine(folder, "weights.safetensors"));
        using var r = CheckpointReader.Open(folder);
        Assert.Equal(SyntheticModelGenerator.HfTensors(_spec).Count, r.Tensors.Count);
    }

    // ------------------------------------------------------------ safetensors

    [Fact]
    public void Safetensors_shorter_than_8_bytes()
    {
        var f = HfFile();
        Corrupt.Truncate(f, 5);
        Fails(SqlState.InvalidParameterValue, f, () => SafetensorsCheckpoint.Open(Path.GetDirectoryName(f)!), "too short");
    }

    [Fact]
    public void Safetensors_header_longer_than_file()
    {
        var f = HfFile();
        Corrupt.PatchU64(f, 0, (ulong)new FileInfo(f).Length + 10);
        Fails(SqlState.InvalidParameterValue, f, () => CheckpointReader.Open(f), "past the end");
    }

    [Fact]
    public void Safetensors_absurd_header_length()
    {
        var f = HfFile();
        Corrupt.PatchU64(f, 0, 1UL << 40);
        var e = Fails(SqlState.InvalidParameterValue, f, () => CheckpointReader.Open(f), "header length is more than");
        Assert.DoesNotContain((1UL << 40).ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message);
    }

    [Fact]
    public void Safetensors_header_not_json()
    {
        var f = HfFile();
        Corrupt.Patch(f, 8, "x"u8);
        Fails(SqlState.InvalidParameterValue, f, () => CheckpointReader.Open(f), "not valid JSON");
    }

    [Fact]
    public void Safetensors_offsets_out_of_order()
    {
        var f = HfFile();
        Corrupt.EditSafetensorsHeader(f, h =>
        {
            var o = h["model.norm.weight"]!["data_offsets"]!.AsArray();
            var (b, e) = ((long)o[0]!, (long)o[1]!);
            h["model.norm.weight"]!["data_offsets"] = new JsonArray(e, b);
        });
        Fails(SqlState.InvalidParameterValue, f, () => CheckpointReader.Open(f), "model.norm.weight", "out of order");
    }

    [Fact]
    public void Safetensors_data_past_end_of_file()
    {
        var f = HfFile();
        Corrupt.Truncate(f, new FileInfo(f).Length - 100);
        Fails(SqlState.InvalidParameterValue, f, () => CheckpointReader.Open(f), "lm_head.weight", "past the end");
    }

    [Fact]
    public void Safetensors_byte_length_does_not_match_shape()
    {
        var f = HfFile();
        Corrupt.EditSafetensorsHeader(f, h => h["model.norm.weight"]!["shape"] = new JsonArray(63));
        Fails(SqlState.InvalidParameterValue, f, () => CheckpointReader.Open(f), "model.norm.weight", "needs 252");
    }

    [Fact]
    public void Safetensors_overlapping_tensors()
    {
        var f = HfFile();
        Corrupt.EditSafetensorsHeader(f, h =>
            h["model.norm.weight"]!["data_offsets"] = h["model.layers.0.input_layernorm.weight"]!["data_offsets"]!.DeepClone());
        Fails(SqlState.InvalidParameterValue, f, () => CheckpointReader.Open(f), "overlap", "model.norm.weight");
    }

    [Theory]
    [InlineData("I8")]
    [InlineData("F64")]
    [InlineData("F8_E5M2")] // F8_E4M3 is read, with block scales (Float8Tests)
    public void Safetensors_unsupported_dtype(string dtype)
    {
        var f = HfFile();
        Corrupt.EditSafetensorsHeader(f, h => h["model.norm.weight"]!["dtype"] = dtype);
        Fails(SqlState.FeatureNotSupported, f, () => CheckpointReader.Open(f), "model.norm.weight", $"dtype {dtype}", "supported: F32, F16, BF16");
    }

    [Fact]
    public void Index_naming_a_missing_shard()
    {
        var folder = Hf(shards: 2);
        File.Delete(Path.Combine(folder, "model-00002-of-00002.safetensors"));
        Fails(SqlState.UndefinedObject, "model.safetensors.index.json", () => CheckpointReader.Open(folder), "model-00002-of-00002.safetensors");
    }

    [Fact]
    public void Index_naming_a_tensor_not_in_its_shard()
    {
        var folder = Hf(shards: 2);
        var index = Path.Combine(folder, "model.safetensors.index.json");
        var json = JsonNode.Parse(File.ReadAllText(index))!;
        json["weight_map"]!["lm_head.weight"] = "model-00001-of-00002.safetensors";
        json["weight_map"]!["no.such.tensor"] = "model-00001-of-00002.safetensors";
        File.WriteAllText(index, json.ToJsonString());
        Fails(SqlState.InvalidParameterValue, index, () => CheckpointReader.Open(folder), "no such tensor");
    }

    [Fact]
    public void Index_not_json()
    {
        var folder = Hf(shards: 2);
        var index = Path.Combine(folder, "model.safetensors.index.json");
        File.WriteAllText(index, "{ \"weight_map\": ");
        Fails(SqlState.InvalidParameterValue, index, () => CheckpointReader.Open(folder), "not valid JSON");
    }

    // ------------------------------------------------------------ gguf

    [Fact]
    public void Gguf_bad_magic()
    {
        var f = Gguf();
        Corrupt.Patch(f, 0, "GGUX"u8);
        // What the file starts with is never echoed: it might be a secret reached through a *.gguf symlink.
        var e = Fails(SqlState.InvalidParameterValue, f, () => CheckpointReader.Open(f), "not a GGUF file");
        Assert.DoesNotContain("GGUX", e.Message);
        Assert.DoesNotContain("GGUX", Fails(SqlState.InvalidParameterValue, f, () => GgufCheckpoint.Open(f)).Message);
    }

    [Theory]
    [InlineData(1u)]
    [InlineData(4u)]
    [InlineData(0x03000000u)]
    public void Gguf_unsupported_version(uint version)
    {
        var f = Gguf();
        Corrupt.PatchU32(f, 4, version);
        Fails(SqlState.FeatureNotSupported, f, () => CheckpointReader.Open(f), $"version {version}");
    }

    [Fact]
    public void Gguf_version_2_is_read()
    {
        var f = Gguf();
        Corrupt.PatchU32(f, 4, 2);
        using var g = GgufCheckpoint.Open(f);
        Assert.Equal(2u, g.Version);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(20)]
    [InlineData(40)]
    public void Gguf_truncated_header(int length)
    {
        var f = Gguf();
        Corrupt.Truncate(f, length);
        Fails(SqlState.InvalidParameterValue, f, () => GgufCheckpoint.Open(f));
    }

    [Fact]
    public void Gguf_truncated_inside_metadata()
    {
        var f = Gguf();
        Corrupt.Truncate(f, Corrupt.FindGgufString(f, "tokenizer.ggml.merges") + 5);
        Fails(SqlState.InvalidParameterValue, f, () => GgufCheckpoint.Open(f));
        var g = Gguf(DType.F16);
        Corrupt.Truncate(g, Corrupt.FindGgufString(g, "tokenizer.ggml.model") + 8 + 20 + 4 + 3);
        Fails(SqlState.InvalidParameterValue, g, () => GgufCheckpoint.Open(g), "truncated");
    }

    [Fact]
    public void Gguf_truncated_inside_tensor_infos()
    {
        var f = Gguf();
        Corrupt.Truncate(f, Corrupt.TensorInfo(f, "output.weight").Ne + 6);
        Fails(SqlState.InvalidParameterValue, f, () => GgufCheckpoint.Open(f), "truncated", "output.weight");
    }

    [Fact]
    public void Gguf_truncated_data()
    {
        var f = Gguf();
        Corrupt.Truncate(f, new FileInfo(f).Length - 100);
        Fails(SqlState.InvalidParameterValue, f, () => GgufCheckpoint.Open(f), "truncated", "output.weight", "past the end");
    }

    [Theory]
    [InlineData(8)]
    [InlineData(16)]
    public void Gguf_absurd_counts(int at)
    {
        var f = Gguf();
        Corrupt.PatchU64(f, at, 1UL << 40);
        Fails(SqlState.InvalidParameterValue, f, () => GgufCheckpoint.Open(f), "impossible");
    }

    [Fact]
    public void Gguf_string_longer_than_file()
    {
        var f = Gguf();
        Corrupt.PatchU64(f, Corrupt.FindGgufString(f, "general.architecture"), 1UL << 50);
        Fails(SqlState.InvalidParameterValue, f, () => GgufCheckpoint.Open(f), "more than the rest of the file");
    }

    [Fact]
    public void Gguf_absurd_array_length()
    {
        var f = Gguf();
        var at = Corrupt.FindGgufString(f, "tokenizer.ggml.tokens") + 8 + "tokenizer.ggml.tokens".Length + 8;
        Corrupt.PatchU64(f, at, 1UL << 60);
        Fails(SqlState.InvalidParameterValue, f, () => GgufCheckpoint.Open(f), "tokenizer.ggml.tokens", "more than the file can hold");
    }

    [Fact]
    public void Gguf_unknown_value_type()
    {
        var f = Gguf();
        Corrupt.PatchU32(f, Corrupt.FindGgufString(f, "general.name") + 8 + "general.name".Length, 99);
        Fails(SqlState.InvalidParameterValue, f, () => GgufCheckpoint.Open(f), "general.name", "unknown value type 99");
    }

    [Fact]
    public void Gguf_misaligned_offset()
    {
        var f = Gguf();
        var info = Corrupt.TensorInfo(f, "output.weight");
        var offset = BitConverter.ToUInt64(File.ReadAllBytes(f), (int)info.Offset);
        Corrupt.PatchU64(f, info.Offset, offset + 4);
        Fails(SqlState.InvalidParameterValue, f, () => GgufCheckpoint.Open(f), "output.weight", "alignment");
    }

    [Fact]
    public void Gguf_bad_alignment_value()
    {
        var f = Gguf();
        Corrupt.PatchU32(f, Corrupt.FindGgufString(f, "general.alignment") + 8 + "general.alignment".Length + 4, 48);
        Fails(SqlState.InvalidParameterValue, f, () => GgufCheckpoint.Open(f), "general.alignment", "power of two");
    }

    [Theory]
    [InlineData(15u, "type Q8_K")] // an activation format: ggml never stores weights in it
    [InlineData(9u, "type Q8_1")]
    [InlineData(39u, "type MXFP4")]
    [InlineData(28u, "type F64")]
    [InlineData(77u, "ggml type 77")]
    public void Gguf_unsupported_tensor_type(uint type, string mention)
    {
        var f = Gguf();
        Corrupt.PatchU32(f, Corrupt.TensorInfo(f, "blk.0.attn_v.weight").Type, type);
        Fails(SqlState.FeatureNotSupported, f, () => CheckpointReader.Open(f), "blk.0.attn_v.weight", mention);
    }

    [Fact]
    public void Gguf_element_count_overflow()
    {
        var f = Gguf();
        var info = Corrupt.TensorInfo(f, "token_embd.weight");
        Corrupt.PatchU64(f, info.Ne, 1UL << 40);
        Corrupt.PatchU64(f, info.Ne + 8, 1UL << 40);
        Fails(SqlState.InvalidParameterValue, f, () => GgufCheckpoint.Open(f), "token_embd.weight", "overflows");
    }

    [Fact]
    public void Gguf_too_many_dimensions()
    {
        var f = Gguf();
        Corrupt.PatchU32(f, Corrupt.TensorInfo(f, "token_embd.weight").NDims, 7);
        Fails(SqlState.InvalidParameterValue, f, () => GgufCheckpoint.Open(f), "token_embd.weight", "7 dimensions");
    }

    [Fact]
    public void Gguf_q8_0_row_not_whole_blocks()
    {
        var f = Gguf(DType.Q8_0);
        Corrupt.PatchU64(f, Corrupt.TensorInfo(f, "blk.0.attn_q.weight").Ne, 48);
        Fails(SqlState.InvalidParameterValue, f, () => GgufCheckpoint.Open(f), "blk.0.attn_q.weight", "block size");
    }

    /// <summary>The legacy 4/5-bit types (read since issue 18) hold blocks of 32 values too: a row of 48 is refused at
    /// open, naming the tensor, before a byte size is derived from it.</summary>
    [Theory]
    [InlineData(2u, "Q4_0")]
    [InlineData(3u, "Q4_1")]
    [InlineData(6u, "Q5_0")]
    [InlineData(7u, "Q5_1")]
    public void Gguf_legacy_block_row_not_whole_blocks(uint type, string name)
    {
        var f = Gguf();
        var info = Corrupt.TensorInfo(f, "blk.0.attn_q.weight");
        Corrupt.PatchU32(f, info.Type, type);
        Corrupt.PatchU64(f, info.Ne, 48);
        Fails(SqlState.InvalidParameterValue, f, () => GgufCheckpoint.Open(f), "blk.0.attn_q.weight", name, "block size 32");
    }

    /// <summary>The K-quant, IQ and ternary types (read since issue 18): a row that is not a whole number of blocks
    /// (128 values of a 256-value type, 48 of IQ4_NL's 32) is refused at open, naming the tensor, the type and the
    /// block size, before a byte size is derived from it.</summary>
    [Theory]
    [InlineData(10u, "Q2_K", 128, 256)]
    [InlineData(11u, "Q3_K", 128, 256)]
    [InlineData(12u, "Q4_K", 128, 256)]
    [InlineData(13u, "Q5_K", 128, 256)]
    [InlineData(14u, "Q6_K", 128, 256)]
    [InlineData(20u, "IQ4_NL", 48, 32)]
    [InlineData(23u, "IQ4_XS", 128, 256)]
    [InlineData(34u, "TQ1_0", 128, 256)]
    [InlineData(35u, "TQ2_0", 128, 256)]
    [InlineData(16u, "IQ2_XXS", 128, 256)]
    [InlineData(17u, "IQ2_XS", 128, 256)]
    [InlineData(22u, "IQ2_S", 128, 256)]
    [InlineData(18u, "IQ3_XXS", 128, 256)]
    [InlineData(21u, "IQ3_S", 128, 256)]
    [InlineData(19u, "IQ1_S", 128, 256)]
    [InlineData(29u, "IQ1_M", 128, 256)]
    public void Gguf_k_quant_row_not_whole_blocks(uint type, string name, int rowValues, int block)
    {
        var f = Gguf();
        var info = Corrupt.TensorInfo(f, "blk.0.attn_q.weight");
        Corrupt.PatchU32(f, info.Type, type);
        Corrupt.PatchU64(f, info.Ne, (ulong)rowValues);
        Fails(SqlState.InvalidParameterValue, f, () => GgufCheckpoint.Open(f), "blk.0.attn_q.weight", name, $"rows of {rowValues} values", $"block size {block}");
    }

    [Fact]
    public void Gguf_overlapping_tensors()
    {
        var f = Gguf();
        var a = Corrupt.TensorInfo(f, "blk.0.attn_norm.weight");
        var b = Corrupt.TensorInfo(f, "blk.0.ffn_norm.weight");
        var bytes = File.ReadAllBytes(f);
        Corrupt.PatchU64(f, b.Offset, BitConverter.ToUInt64(bytes, (int)a.Offset));
        Fails(SqlState.InvalidParameterValue, f, () => GgufCheckpoint.Open(f), "overlap");
    }
}
