using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Convert.Formats;
using Vib3.Core;
using Vib3.Storage;
using Vib3.Storage.Catalog;
using Vib3.Synth;

namespace Vib3.Tests.Conversion;

/// <summary>Every family × format: every tensor read back through the page store equals the source, bit-exact
/// when the dtype is kept, within rounding when converted, with a RAM budget far below the model's size.</summary>
public sealed class RoundTripTests
{
    public static TheoryData<ModelFamily, string, DType> Cases()
    {
        var data = new TheoryData<ModelFamily, string, DType>();
        // deepseek2 stores k_b / v_b derived from kv_b, not copies of a source tensor: its conversion is checked through
        // logits (Vib3.Models.Tests Deepseek2DifferentialTests: GGUF of both forms against llama.cpp, HF against GGUF).
        foreach (var family in Enum.GetValues<ModelFamily>().Where(f => f != ModelFamily.Deepseek2))
        {
            data.Add(family, "hf", DType.BF16);
            data.Add(family, "gguf", DType.F32);
        }
        data.Add(ModelFamily.Mixtral, "hf", DType.F16);
        data.Add(ModelFamily.Mixtral, "hf", DType.F32);
        data.Add(ModelFamily.Qwen2Moe, "gguf", DType.Q8_0);
        data.Add(ModelFamily.Olmoe, "gguf", DType.F16);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Every_tensor_reads_back_bit_exact(ModelFamily family, string format, DType dtype)
    {
        using var dir = new TempDir();
        var spec = SyntheticCheckpoints.Small(family, dtype);
        var source = SyntheticCheckpoints.Write(dir, spec, format);
        var catalog = new ModelCatalog(dir.Sub("data"));
        var manifest = new ModelConverter(catalog, DescriptorCatalog.LoadDefault())
            .Convert(new ConversionRequest(source, "m", PageRows: 32));

        Assert.Equal(dtype.Name(), manifest.DType);
        Assert.Equal(32, manifest.PageRows);
        await AssertMatchesSource(catalog, "m", source, exact: true, budget: 1280 * 1024);
    }

    [Theory]
    [InlineData(ModelFamily.Mixtral, "hf", DType.BF16, DType.F32)]
    [InlineData(ModelFamily.Qwen3Moe, "gguf", DType.F32, DType.BF16)]
    [InlineData(ModelFamily.Olmoe, "hf", DType.F32, DType.F16)]
    [InlineData(ModelFamily.Qwen2Moe, "hf", DType.F32, DType.Q8_0)]
    public async Task Converted_dtypes_read_back_within_rounding(ModelFamily family, string format, DType from, DType to)
    {
        using var dir = new TempDir();
        var spec = SyntheticCheckpoints.Small(family, from) with { ExpertHidden = 96 };
        var source = SyntheticCheckpoints.Write(dir, spec, format);
        var catalog = new ModelCatalog(dir.Sub("data"));
        var manifest = new ModelConverter(catalog, DescriptorCatalog.LoadDefault())
            .Convert(new ConversionRequest(source, "m", to, PageRows: 32));

        Assert.Equal(to.Name(), manifest.DType);
        await AssertMatchesSource(catalog, "m", source, exact: false, budget: 1280 * 1024);
    }

    [Fact]
    public async Task Default_page_rows_keep_a_small_expert_in_one_page()
    {
        using var dir = new TempDir();
        var source = SyntheticCheckpoints.Write(dir, SyntheticCheckpoints.Small(ModelFamily.Mixtral, DType.F32), "hf");
        var catalog = new ModelCatalog(dir.Sub("data"));
        var manifest = new ModelConverter(catalog, DescriptorCatalog.LoadDefault()).Convert(new ConversionRequest(source, "m"));

        Assert.Equal(80, manifest.PageRows);
        Assert.All(manifest.ExpertGrids, g => Assert.Equal(1, g.BundlesPerExpert));
        await AssertMatchesSource(catalog, "m", source, exact: true, budget: 3 << 20);
    }

    /// <summary>A 50 MB model read through a 3 MiB budget: most reads miss, evict and come from disk.</summary>
    [Theory]
    [InlineData(ModelFamily.Mixtral, "hf")]
    [InlineData(ModelFamily.Qwen3Moe, "gguf")]
    public async Task Budget_far_below_the_model_reads_everything_from_disk(ModelFamily family, string format)
    {
        using var dir = new TempDir();
        var spec = SyntheticCheckpoints.Small(family, DType.F32) with { Layers = 4, Dim = 256, ExpertHidden = 512, Experts = 8 };
        var source = SyntheticCheckpoints.Write(dir, spec, format);
        var catalog = new ModelCatalog(dir.Sub("data"));
        var manifest = new ModelConverter(catalog, DescriptorCatalog.LoadDefault())
            .Convert(new ConversionRequest(source, "m", PageRows: 32));
        const long budget = 3 << 20;
        Assert.True(manifest.PageBytes > 15 * budget, $"model {manifest.PageBytes} bytes is not far above the budget");
        await AssertMatchesSource(catalog, "m", source, exact: true, budget: budget);
    }

    internal static async Task AssertMatchesSource(ModelCatalog catalog, string name, string sourcePath, bool exact, long budget)
    {
        using var model = StoredModel.Open(catalog, name, new PageStoreOptions { RamBudgetBytes = budget });
        using var reader = CheckpointReader.Open(sourcePath);
        var m = model.Manifest;
        Assert.True(m.PageBytes > 0);

        foreach (var t in m.Tensors)
        {
            var stored = await model.ReadTensorAsync(t.Name);
            var src = reader.Tensors[t.SourceName];
            var srcBytes = new byte[src.ByteLength];
            reader.Read(src, 0, srcBytes);
            AssertSame(t.Name, src.DType, srcBytes, DTypes.Parse(t.DType), stored, exact);
        }

        var gguf = reader.Format == "gguf";
        foreach (var g in m.ExpertGrids)
        {
            for (var e = 0; e < g.Experts; e++)
            {
                foreach (var kind in Enum.GetValues<ExpertMatrixKind>())
                {
                    var stored = await model.ReadExpertMatrixAsync(g.Layer, e, kind);
                    var (src, offset) = ExpertSource(reader, m.Family, g.Layer, e, kind, gguf);
                    var srcBytes = new byte[src.DType.ByteCount((long)g.Dim * g.ExpertHidden)];
                    reader.Read(src, offset, srcBytes);
                    AssertSame($"layer {g.Layer} expert {e} {kind}", src.DType, srcBytes, kind == ExpertMatrixKind.Down ? g.DownType() : g.GateUpType(), stored, exact);
                }
            }
        }

        var stats = model.Store.Stats;
        Assert.True(stats.BytesRead >= m.PageBytes, $"every page came from disk at least once ({stats.BytesRead} < {m.PageBytes})");
        if (m.PageBytes > 4 * budget)
            Assert.True(stats.Evictions > 0, "a budget far below the model must evict");
        Assert.True(stats.ResidentBytes <= budget, $"resident {stats.ResidentBytes} exceeds the budget {budget}");
    }

    private static (SourceTensor Tensor, long Offset) ExpertSource(
        ICheckpointReader reader, string family, int layer, int expert, ExpertMatrixKind kind, bool gguf)
    {
        var d = DescriptorCatalog.LoadDefault().Families.Single(f => f.Family == family).Experts;
        var pattern = kind switch { ExpertMatrixKind.Gate => d.Gate, ExpertMatrixKind.Up => d.Up, _ => d.Down };
        var name = (gguf ? pattern.Gguf : pattern.Hf).Replace("{l}", layer.ToString()).Replace("{e}", expert.ToString());
        var t = reader.Tensors[name];
        if (!gguf) return (t, 0);
        var per = t.ByteLength / t.Shape[0];
        return (t, expert * per);
    }

    private static void AssertSame(string what, DType srcType, byte[] src, DType storedType, byte[] stored, bool exact)
    {
        if (srcType == storedType)
        {
            Assert.True(src.AsSpan().SequenceEqual(stored), $"{what}: stored bytes differ from the source ({srcType.Name()})");
            return;
        }
        Assert.False(exact && storedType != DType.F32, $"{what}: stored as {storedType.Name()}, source is {srcType.Name()}");
        var count = (int)(src.Length / srcType.ByteCount(srcType.BlockSize()) * srcType.BlockSize());
        var a = new float[count];
        var b = new float[count];
        DTypeConvert.ToF32(srcType, src, a);
        DTypeConvert.ToF32(storedType, stored, b);
        for (var i = 0; i < count; i++)
            Assert.True(MathF.Abs(a[i] - b[i]) <= RoundingBound(storedType, a, i),
                $"{what}[{i}]: source {a[i]} vs stored {b[i]} ({srcType.Name()} → {storedType.Name()}), " +
                $"more than {storedType.Name()}'s rounding error {RoundingBound(storedType, a, i)}");
    }

    /// <summary>The most that rounding <paramref name="a"/>[i] to <paramref name="type"/> can move it (round to
    /// nearest): half an ulp of the value (f16: 11 significant bits, and half its smallest subnormal 2^-24; bf16: 8);
    /// for q8_0, half a quantisation step of the block (amax / 127 / 2) plus the step's own f16 rounding times the
    /// largest quant (127 · step · 2^-11). A hair over, for the float arithmetic of the check itself.</summary>
    private static float RoundingBound(DType type, float[] a, int i) => 1.0001f * type switch
    {
        DType.F32 => 0f,
        DType.F16 => MathF.Abs(a[i]) * MathF.Pow(2, -11) + MathF.Pow(2, -25),
        DType.BF16 => MathF.Abs(a[i]) * MathF.Pow(2, -8),
        DType.Q8_0 => BlockMax(a, i) * (1f / 254 + MathF.Pow(2, -11)),
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "no rounding bound for this stored type"),
    };

    private static float BlockMax(float[] a, int i)
    {
        var start = i / DTypes.Q8BlockSize * DTypes.Q8BlockSize;
        var max = 0f;
        for (var j = start; j < start + DTypes.Q8BlockSize && j < a.Length; j++) max = MathF.Max(max, MathF.Abs(a[j]));
        return max;
    }
}
