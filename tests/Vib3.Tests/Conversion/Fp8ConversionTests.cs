using System.Text.Json.Nodes;
using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Convert.Formats;
using Vib3.Core;
using Vib3.Models.Inference;
using Vib3.Storage;
using Vib3.Storage.Catalog;
using Vib3.Synth;

namespace Vib3.Tests.Conversion;

/// <summary>DeepSeek-V3 / Kimi K2 as published: linear weights float8 e4m3 with per-block scales (weight_scale_inv).
/// Stored values equal a dequantisation of the file done here; the model computes what the GGUF of its dequantised
/// weights computes, and near what the unquantised bf16 model computes; broken scales are refused by name.</summary>
public sealed class Fp8ConversionTests
{
    /// <summary>DeepSeek's 128×128 blocks: every synthetic matrix is one partial block.</summary>
    private static readonly SyntheticModelSpec Published = new()
    {
        Family = ModelFamily.Deepseek2, Layers = 3, Dim = 64, Heads = 4, ExpertHidden = 32, Experts = 8, TopK = 3,
        ExpertGroups = 4, GroupsUsed = 2, Vocab = 320, Context = 128, Seed = 13, RopeTheta = 10_000,
        DType = DType.BF16, Fp8BlockSize = 128, MtpLayers = 1,
    };

    /// <summary>Blocks of 24: several per matrix, partial ones at the right and bottom edges (dims 64, 40, 96, 128).</summary>
    private static readonly SyntheticModelSpec SmallBlocks = Published with { ExpertHidden = 40, Fp8BlockSize = 24 };

    private static ModelManifest Convert(TempDir dir, string source, string name, DType? dtype = null) =>
        new ModelConverter(new ModelCatalog(dir.Sub("data")), DescriptorCatalog.LoadDefault())
            .Convert(new ConversionRequest(source, name, dtype, PageRows: 16));

    [Fact]
    public void Without_dtype_float8_becomes_bf16_and_the_manifest_names_the_source_f8_e4m3()
    {
        using var dir = new TempDir();
        var m = Convert(dir, SyntheticCheckpoints.Write(dir, Published, "hf"), "m");

        Assert.Equal("bf16", m.DType);
        Assert.Equal("f8_e4m3", m.Source.DType);
        Assert.All(m.Tensors.Where(t => t.Shape.Length == 2 && t.Role != "router"), t => Assert.Equal("bf16", t.DType));
        Assert.Contains(m.Tensors, t => t.SourceName == "model.layers.0.self_attn.kv_b_proj.weight");
        Assert.All(m.Tensors.Where(t => t.Shape.Length == 1 || t.Role == "router"), t => Assert.Equal("f32", t.DType));
    }

    [Fact]
    public async Task At_f32_every_stored_value_equals_the_files_code_times_its_block_scale()
    {
        using var dir = new TempDir();
        var fp8 = SyntheticCheckpoints.Write(dir, SmallBlocks, "hf");
        var plain = dir.Sub("dequantised-f32");
        WriteDequantisedF32(fp8, plain, blockSize: 24);

        var a = Convert(dir, fp8, "fp8", DType.F32);
        var b = Convert(dir, plain, "plain", DType.F32);
        Assert.Equal("f8_e4m3", a.Source.DType);
        Assert.Equal("f32", b.Source.DType);

        var options = new PageStoreOptions { RamBudgetBytes = 16 << 20 };
        var catalog = new ModelCatalog(dir.Sub("data"));
        using var fromFp8 = StoredModel.Open(catalog, "fp8", options);
        using var fromPlain = StoredModel.Open(catalog, "plain", options);
        Assert.Equal(b.Tensors.Select(t => t.Name), a.Tensors.Select(t => t.Name));
        foreach (var t in a.Tensors)
            AssertSameBytes(await fromPlain.ReadTensorAsync(t.Name), await fromFp8.ReadTensorAsync(t.Name), t.Name);
        Assert.Equal(b.ExpertGrids.Count, a.ExpertGrids.Count);
        foreach (var g in a.ExpertGrids)
            for (var e = 0; e < g.Experts; e++)
                foreach (var kind in Enum.GetValues<ExpertMatrixKind>())
                    AssertSameBytes(await fromPlain.ReadExpertMatrixAsync(g.Layer, e, kind), await fromFp8.ReadExpertMatrixAsync(g.Layer, e, kind),
                        $"layer {g.Layer} expert {e} {kind}");
    }

    [Fact]
    public async Task Logits_match_the_gguf_of_the_dequantised_weights_and_stay_near_the_unquantised_model()
    {
        using var dir = new TempDir();
        var fp8 = Convert(dir, SyntheticCheckpoints.Write(dir, Published, "hf"), "fp8");
        // The synthetic GGUF of a float8 spec holds what its weights dequantise to, as llama.cpp's converter writes it.
        Convert(dir, SyntheticCheckpoints.Write(dir, Published, "gguf"), "gguf");
        var bf16 = dir.Sub("bf16");
        SyntheticModelGenerator.WriteHf(Published with { Fp8BlockSize = 0 }, bf16);
        Convert(dir, bf16, "bf16");
        Assert.Equal(1, fp8.Hyper.SkippedMtpLayers);

        var tokens = Enumerable.Range(0, 12).Select(i => (i * 37 + 5) % (Published.Vocab - 3) + 3).ToArray();
        var catalog = new ModelCatalog(dir.Sub("data"));
        var logits = new Dictionary<string, float[][]>();
        foreach (var name in new[] { "fp8", "gguf", "bf16" })
        {
            using var pass = await SequencePass.OpenAsync(catalog, name, new PageStoreOptions { RamBudgetBytes = 64 << 20 });
            logits[name] = await pass.LogitsAsync(tokens, allPositions: true);
        }

        var (sameWeights, _) = WorstRelative(logits["gguf"], logits["fp8"]);
        Assert.True(sameWeights <= 1e-5f, $"fp8 folder vs gguf of its dequantised weights: max |Δlogit| = {sameWeights:G4} × max |logit|");
        // e4m3 keeps 3 mantissa bits: the model moves, but a misapplied scale (ignored, divided, another block's) moves it far more.
        var (quantised, scale) = WorstRelative(logits["bf16"], logits["fp8"]);
        Assert.True(quantised is > 1e-4f and <= 0.1f, $"fp8 vs bf16 model: max |Δlogit| = {quantised:G4} × max |logit| {scale:G4}");
    }

    [Fact]
    public void A_float8_weight_without_its_scales_is_refused_by_name()
    {
        using var dir = new TempDir();
        const string weight = "model.layers.1.mlp.experts.2.up_proj.weight";
        var broken = Rewritten(dir, (t, bytes, w) =>
        {
            if (t.Name != weight + "_scale_inv") CopyAsIs(t, bytes, w);
        });
        var e = Assert.Throws<Vib3Exception>(() => Convert(dir, broken, "m"));
        Assert.Equal(SqlState.UndefinedObject, e.SqlState);
        Assert.Contains($"'{weight}'", e.Message);
        Assert.Contains($"'{weight}_scale_inv'", e.Message);
        Assert.False(new ModelCatalog(dir.Sub("data")).Exists("m"));
    }

    [Fact]
    public void A_scale_grid_of_the_wrong_shape_is_refused_by_name()
    {
        using var dir = new TempDir();
        const string scale = "model.layers.0.self_attn.kv_b_proj.weight_scale_inv";
        var broken = Rewritten(dir, (t, bytes, w) =>
        {
            if (t.Name == scale)
                w.Writer.Add(t.Name, DType.F32, [1, 2], SyntheticModelGenerator.Encode(DType.F32, [0.01f, 0.01f]));
            else
                CopyAsIs(t, bytes, w);
        });
        var e = Assert.Throws<Vib3Exception>(() => Convert(dir, broken, "m"));
        Assert.Equal(SqlState.InvalidParameterValue, e.SqlState);
        Assert.Contains($"'{scale}'", e.Message);
        Assert.Contains("[1, 2]", e.Message);
        Assert.Contains("[1, 1]", e.Message);
    }

    [Fact]
    public void Float8_weights_without_a_quantization_config_are_refused()
    {
        using var dir = new TempDir();
        var folder = SyntheticCheckpoints.Write(dir, Published, "hf");
        EditConfig(folder, c => c.Remove("quantization_config"));
        var e = Assert.Throws<Vib3Exception>(() => Convert(dir, folder, "m"));
        Assert.Equal(SqlState.InvalidParameterValue, e.SqlState);
        Assert.Contains("quantization_config", e.Message);
        Assert.Contains("float8", e.Message);
    }

    [Fact]
    public void Per_tensor_fp8_scaling_is_named_as_unsupported()
    {
        using var dir = new TempDir();
        var folder = SyntheticCheckpoints.Write(dir, Published, "hf");
        EditConfig(folder, c => c["quantization_config"]!.AsObject().Remove("weight_block_size"));
        var e = Assert.Throws<Vib3Exception>(() => Convert(dir, folder, "m"));
        Assert.Equal(SqlState.FeatureNotSupported, e.SqlState);
        Assert.Contains("weight_block_size", e.Message);
    }

    // ---------------------------------------------------------------- folders derived from a float8 one

    /// <summary>The values the float8 folder means, written as a plain f32 folder: code · scale[i / block, j / block] for
    /// float8 weights (decoded by the table Vib3.Formats.Tests checks code by code), every other tensor widened.</summary>
    private static void WriteDequantisedF32(string fp8, string to, int blockSize)
    {
        Rewrite(fp8, to, (t, bytes, w) =>
        {
            if (t.Name.EndsWith(Fp8BlockScaling.ScaleSuffix, StringComparison.Ordinal)) return;
            var values = new float[t.ElementCount];
            if (t.Float8)
            {
                var scale = w.Source.Tensors[t.Name + Fp8BlockScaling.ScaleSuffix];
                var scales = new float[scale.ElementCount];
                DTypeConvert.ToF32(scale.DType, FileBytes(scale), scales);
                long cols = t.Shape[1], gridCols = scale.Shape[1];
                for (long i = 0; i < values.Length; i++)
                    values[i] = Float8E4M3.ToFloat(bytes[i]) * scales[i / cols / blockSize * gridCols + i % cols / blockSize];
            }
            else
            {
                DTypeConvert.ToF32(t.DType, bytes, values);
            }
            w.Writer.Add(t.Name, DType.F32, t.Shape, SyntheticModelGenerator.Encode(DType.F32, values));
        });
        EditConfig(to, c => c.Remove("quantization_config"));
    }

    /// <summary>The folder being copied (for a weight's scale grid) and the copy being written.</summary>
    private sealed record Target(SafetensorsCheckpoint Source, SafetensorsWriter Writer);

    /// <summary>A copy of the <see cref="Published"/> folder with its tensors passed through <paramref name="copy"/>.</summary>
    private static string Rewritten(TempDir dir, Action<SourceTensor, byte[], Target> copy)
    {
        var folder = SyntheticCheckpoints.Write(dir, Published, "hf");
        var to = dir.Sub("rewritten");
        Rewrite(folder, to, copy);
        return to;
    }

    private static void Rewrite(string from, string to, Action<SourceTensor, byte[], Target> copy)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.EnumerateFiles(from).Where(f => !f.Contains(".safetensors", StringComparison.Ordinal)))
            File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
        using var source = SafetensorsCheckpoint.Open(from);
        var target = new Target(source, new SafetensorsWriter());
        foreach (var t in source.Tensors.Values.OrderBy(t => t.FilePath, StringComparer.Ordinal).ThenBy(t => t.DataOffset))
            copy(t, FileBytes(t), target);
        target.Writer.Write(to);
    }

    private static void CopyAsIs(SourceTensor t, byte[] bytes, Target w)
    {
        if (t.Float8)
            w.Writer.AddFloat8(t.Name, t.Shape, s => s.Write(bytes));
        else
            w.Writer.Add(t.Name, t.DType, t.Shape, bytes);
    }

    private static byte[] FileBytes(SourceTensor t)
    {
        using var f = File.OpenRead(t.FilePath);
        f.Position = t.DataOffset;
        var bytes = new byte[t.ByteLength];
        f.ReadExactly(bytes);
        return bytes;
    }

    private static void EditConfig(string folder, Action<JsonObject> edit)
    {
        var path = Path.Combine(folder, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(config);
        File.WriteAllText(path, config.ToJsonString());
    }

    private static void AssertSameBytes(byte[] expected, byte[] actual, string what) =>
        Assert.True(expected.AsSpan().SequenceEqual(actual), $"{what}: stored bytes differ");

    private static (float Worst, float Scale) WorstRelative(float[][] expected, float[][] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        var worst = 0f;
        var largest = 0f;
        for (var p = 0; p < expected.Length; p++)
        {
            var scale = expected[p].Max(MathF.Abs);
            largest = MathF.Max(largest, scale);
            for (var i = 0; i < expected[p].Length; i++)
                worst = MathF.Max(worst, MathF.Abs(expected[p][i] - actual[p][i]) / scale);
        }
        return (worst, largest);
    }
}
