using System.Text.Json.Nodes;
using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Convert.Formats;
using Vib3.Core;
using Vib3.Storage.Catalog;
using Vib3.Synth;

namespace Vib3.Tests.Conversion;

/// <summary>What conversion accepts and refuses beyond malformed files: config layouts of real checkpoints,
/// tied embeddings, tensors nobody described, mixed expert types, old GGUF layouts.</summary>
public sealed class ConversionRulesTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly ModelCatalog _catalog;

    public ConversionRulesTests()
    {
        _catalog = new ModelCatalog(_dir.Sub("data"));
    }

    public void Dispose() => _dir.Dispose();

    private ModelManifest Convert(string path, DType? dtype = null) =>
        new ModelConverter(_catalog, DescriptorCatalog.LoadDefault()).Convert(new ConversionRequest(path, "m", dtype));

    private Vib3Exception Refused(string path, DType? dtype = null)
    {
        var e = Assert.Throws<Vib3Exception>(() => Convert(path, dtype));
        Assert.False(_catalog.Exists("m"));
        return e;
    }

    private string Hf(ModelFamily family = ModelFamily.Mixtral, DType dtype = DType.F32) =>
        SyntheticCheckpoints.Write(_dir, SyntheticCheckpoints.Small(family, dtype), "hf");

    private static void EditConfig(string folder, Action<JsonObject> edit)
    {
        var path = Path.Combine(folder, "config.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(json);
        File.WriteAllText(path, json.ToJsonString());
    }

    /// <summary>Rewrites model.safetensors from the synthetic tensors, letting the caller rename, drop or retype them.</summary>
    private static void RewriteTensors(string folder, SyntheticModelSpec spec, Func<SyntheticTensor, (string Name, DType Type)?> map)
    {
        File.Delete(Path.Combine(folder, "model.safetensors"));
        var writer = new SafetensorsWriter();
        foreach (var t in SyntheticModelGenerator.HfTensors(spec))
        {
            if (map(t) is not { } to) continue;
            writer.Add(to.Name, to.Type, t.Shape, SyntheticModelGenerator.Encode(to.Type, SyntheticModelGenerator.Values(spec, t)));
        }
        writer.Write(folder);
    }

    [Fact]
    public void Rope_theta_in_transformers_5_rope_parameters_is_read()
    {
        var folder = Hf();
        EditConfig(folder, c =>
        {
            c.Remove("rope_theta");
            c["rope_parameters"] = new JsonObject { ["rope_type"] = "default", ["rope_theta"] = 500000.0 };
        });
        Assert.Equal(500000.0, Convert(folder).Hyper.RopeTheta);
    }

    [Theory]
    [InlineData("moe_layer_freq", "2", "moe_layer_freq = 2")]
    [InlineData("scoring_func", "\"sqrtsoftplus\"", "'scoring_func' = 'sqrtsoftplus' is not supported")]
    [InlineData("rope_scaling", "{\"type\": \"longrope\", \"factor\": 4}", "'rope_scaling.type' = 'longrope' is not supported")]
    public void A_deepseek2_config_vib3_cannot_run_exactly_is_refused_by_name(string key, string value, string message)
    {
        var folder = SyntheticCheckpoints.Write(_dir, SyntheticCheckpoints.Small(ModelFamily.Deepseek2, DType.F32) with { Layers = 3 }, "hf");
        EditConfig(folder, c => c[key] = JsonNode.Parse(value));
        var e = Refused(folder);
        Assert.Equal(SqlState.FeatureNotSupported, e.SqlState);
        Assert.Contains(message, e.Message);
        Assert.Contains("config.json", e.Message);
    }

    [Fact]
    public void A_config_without_rope_theta_is_refused_not_defaulted()
    {
        var folder = Hf();
        EditConfig(folder, c => c.Remove("rope_theta"));
        var e = Refused(folder);
        Assert.Contains("'rope_theta'", e.Message);
        Assert.Contains("config.json", e.Message);
    }

    [Fact]
    public void Missing_lm_head_is_refused_unless_embeddings_are_tied()
    {
        var spec = SyntheticCheckpoints.Small(ModelFamily.Mixtral, DType.F32);
        var folder = Hf();
        RewriteTensors(folder, spec, t => t.Name == "lm_head.weight" ? null : (t.Name, DType.F32));
        var e = Refused(folder);
        Assert.Contains("lm_head.weight", e.Message);
        Assert.Contains("tie_word_embeddings", e.Message);

        EditConfig(folder, c => c["tie_word_embeddings"] = true);
        var m = Convert(folder);
        Assert.True(m.Hyper.TiedEmbeddings);
        Assert.DoesNotContain(m.Tensors, t => t.Role == "lm_head");
    }

    /// <summary>A forced small R cuts the expert pages only: the dense tensors keep the pages the default geometry
    /// gives them (one neuron a page must not cut the embeddings into thousands of pieces every token reads).</summary>
    [Fact]
    public void Forced_page_rows_leave_the_dense_pages_as_the_default_cuts_them()
    {
        var folder = Hf();
        var chosen = Convert(folder);
        _catalog.Drop("m");
        var narrow = new ModelConverter(_catalog, DescriptorCatalog.LoadDefault()).Convert(new ConversionRequest(folder, "m", PageRows: 1));
        Assert.Equal(1, narrow.PageRows);
        Assert.True(chosen.PageRows > 1);
        Assert.Equal(chosen.Tensors.Select(t => (t.Name, t.PageCount)), narrow.Tensors.Select(t => (t.Name, t.PageCount)));
        Assert.Equal(chosen.MaxPageBytes, narrow.MaxPageBytes);
        Assert.Equal(chosen.ExpertGrids[0].BundlesPerExpert * chosen.PageRows, narrow.ExpertGrids[0].BundlesPerExpert);
    }

    [Fact]
    public void Untied_models_say_so()
    {
        Assert.False(Convert(Hf()).Hyper.TiedEmbeddings);
    }

    [Fact]
    public void A_tensor_no_descriptor_names_is_refused()
    {
        var spec = SyntheticCheckpoints.Small(ModelFamily.Mixtral, DType.F32);
        var folder = Hf();
        RewriteTensors(folder, spec, t => (t.Name == "lm_head.weight" ? "lm_head_renamed.weight" : t.Name, DType.F32));
        var e = Refused(folder);
        Assert.Contains("lm_head", e.Message);
    }

    [Fact]
    public void Mixed_expert_dtypes_need_an_explicit_dtype()
    {
        var spec = SyntheticCheckpoints.Small(ModelFamily.Mixtral, DType.BF16);
        var folder = Hf(dtype: DType.BF16);
        const string odd = "model.layers.1.block_sparse_moe.experts.0.w1.weight";
        RewriteTensors(folder, spec, t => (t.Name, t.Name == odd ? DType.F32 : DType.BF16));
        var e = Refused(folder);
        Assert.Equal(SqlState.FeatureNotSupported, e.SqlState);
        Assert.Contains(odd, e.Message);
        Assert.Contains("--dtype", e.Message);

        Assert.Equal("f32", Convert(folder, DType.F32).DType);
    }

    [Fact]
    public void A_single_safetensors_file_converts_with_its_folder_config()
    {
        var folder = Hf();
        var m = Convert(Path.Combine(folder, "model.safetensors"));
        Assert.Equal("mixtral", m.Family);
        Assert.Contains("tokenizer.json", m.Tokenizer.Files);
    }

    [Fact]
    public void Sharded_checkpoints_convert()
    {
        var spec = SyntheticCheckpoints.Small(ModelFamily.Qwen2Moe, DType.BF16) with { Shards = 3 };
        var folder = _dir.Sub("sharded");
        SyntheticModelGenerator.WriteHf(spec, folder);
        Assert.True(File.Exists(Path.Combine(folder, "model.safetensors.index.json")));
        Assert.Equal("qwen2moe", Convert(folder).Family);
    }

    [Fact]
    public async Task Legacy_per_expert_mixtral_gguf_converts_to_the_same_pages()
    {
        var spec = SyntheticCheckpoints.Small(ModelFamily.Mixtral, DType.F16);
        var stacked = SyntheticCheckpoints.Write(_dir, spec, "gguf");
        var legacy = _dir.Sub("legacy.gguf");
        SplitExperts(stacked, legacy, spec.Experts);

        var fromLegacy = Convert(legacy);
        Assert.Equal("f16", fromLegacy.DType);
        using var model = StoredModel.Open(_catalog, "m", new Vib3.Storage.PageStoreOptions { RamBudgetBytes = 64 << 20 });
        using var reader = CheckpointReader.Open(stacked);
        var down = reader.Tensors["blk.1.ffn_down_exps.weight"];
        var per = down.ByteLength / spec.Experts;
        var expected = new byte[per];
        reader.Read(down, 2 * per, expected);
        Assert.Equal(expected, await model.ReadExpertMatrixAsync(1, 2, ExpertMatrixKind.Down));
    }

    /// <summary>Writes the GGUF layout llama.cpp used before it stacked experts: blk.L.ffn_{gate,up,down}.E.weight.</summary>
    private static void SplitExperts(string stackedPath, string legacyPath, int experts)
    {
        using var reader = GgufCheckpoint.Open(stackedPath);
        var w = new GgufWriter();
        foreach (var (key, v) in reader.Metadata)
        {
            if (key == "general.alignment") continue;
            if (v.IsArray) w.AddArray(key, (GgufWriterType)(uint)v.ElementType, (System.Collections.IList)v.Value);
            else CopyScalar(w, key, v);
        }
        foreach (var name in reader.TensorOrder)
        {
            var t = reader.Tensors[name];
            var bytes = new byte[t.ByteLength];
            reader.Read(t, 0, bytes);
            if (!name.Contains("_exps.", StringComparison.Ordinal))
            {
                w.AddTensor(name, t.DType, t.Shape, bytes);
                continue;
            }
            var per = bytes.Length / experts;
            for (var e = 0; e < experts; e++)
                w.AddTensor(name.Replace("_exps.", $".{e}.", StringComparison.Ordinal), t.DType, t.Shape[1..],
                    bytes.AsMemory(e * per, per));
        }
        w.Write(legacyPath);
    }

    private static void CopyScalar(GgufWriter w, string key, GgufValue v)
    {
        switch (v.Type)
        {
            case GgufValueType.String: w.AddString(key, v.GetString()); break;
            case GgufValueType.Bool: w.AddBool(key, v.GetBool()); break;
            case GgufValueType.Float32: w.AddFloat32(key, (float)v.GetFloat()); break;
            case GgufValueType.Float64: w.AddFloat64(key, v.GetFloat()); break;
            case GgufValueType.UInt32: w.AddUInt32(key, (uint)v.GetUInt()); break;
            case GgufValueType.Int32: w.AddInt32(key, (int)v.GetInt()); break;
            case GgufValueType.UInt64: w.AddUInt64(key, v.GetUInt()); break;
            default: w.AddInt64(key, v.GetInt()); break;
        }
    }
}
