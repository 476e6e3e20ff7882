using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Core;
using Vib3.Storage.Catalog;
using Vib3.Synth;
using Vib3.Tests.Conversion;

namespace Vib3.Tests.Store;

/// <summary>The per-weight view vib3 models / info, vib3_tensors and EXPLAIN are built on accounts for every stored
/// byte and parameter the converter recorded, whatever the family (shared experts, latent attention, leading dense
/// layers) and whether the last bundle of an expert is partial (expert hidden 80 or 96 at 32 rows a page).</summary>
public sealed class StoredTensorsTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(ModelFamily.Mixtral, DType.F32)]
    [InlineData(ModelFamily.Qwen2Moe, DType.Q8_0)]
    [InlineData(ModelFamily.Deepseek2, DType.F32)]
    public void Every_page_byte_and_parameter_belongs_to_one_listed_weight(ModelFamily family, DType dtype)
    {
        var spec = family == ModelFamily.Deepseek2
            ? new SyntheticModelSpec
            {
                Family = family, Layers = 3, Dim = 64, Heads = 4, ExpertHidden = 80, Experts = 8, TopK = 3, ExpertGroups = 4, GroupsUsed = 2,
                Vocab = 300, Context = 128, Seed = 5,
            }
            : SyntheticCheckpoints.Small(family, DType.F32) with { ExpertHidden = dtype == DType.Q8_0 ? 96 : 80 };
        var source = SyntheticCheckpoints.Write(_dir, spec, "hf");
        var catalog = new ModelCatalog(_dir.Sub("data"));
        new ModelConverter(catalog, DescriptorCatalog.LoadDefault()).Convert(new ConversionRequest(source, "m", dtype == DType.F32 ? null : dtype, PageRows: 32));
        var m = catalog.Get("m");

        var tensors = StoredTensors.Of(m);
        Assert.Equal(m.PageBytes, tensors.Sum(t => t.Bytes));
        Assert.Equal(m.Parameters, tensors.Sum(t => t.Parameters));
        Assert.Equal(m.Tensors.Count + 3 * m.ExpertGrids.Count, tensors.Count);
        Assert.Equal(tensors.Count, tensors.Select(t => t.Name).Distinct().Count());
        // Vectors stay f32 whatever --dtype says, and the label leaves them out.
        Assert.Equal(dtype == DType.F32 ? "f32" : $"{dtype.Name()} (mixed: f32)", StoredTensors.TypeLabel(tensors));
    }
}
