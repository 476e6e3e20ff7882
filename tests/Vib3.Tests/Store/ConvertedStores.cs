using System.Text.Json;
using System.Text.Json.Nodes;
using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Core;
using Vib3.Storage.Catalog;
using Vib3.Synth;
using Vib3.Tests.Conversion;

namespace Vib3.Tests.Store;

/// <summary>Small real converted models to damage: "mix" (mixtral: GQA attention), "qw" (qwen2moe: biases and a
/// shared expert) and "ds" (deepseek2: latent attention, a leading dense layer, grouped sigmoid routing, YaRN), each
/// with its pristine manifest kept so a test can put it back.</summary>
public sealed class ConvertedStores : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly Dictionary<string, string> _pristine = new();

    public ConvertedStores()
    {
        Data = _dir.Sub("data");
        Catalog = new ModelCatalog(Data);
        var converter = new ModelConverter(Catalog, DescriptorCatalog.LoadDefault());
        Mixtral = SyntheticCheckpoints.Write(_dir, SyntheticCheckpoints.Small(ModelFamily.Mixtral, DType.F32), "hf");
        converter.Convert(new ConversionRequest(Mixtral, "mix", PageRows: 32));
        converter.Convert(new ConversionRequest(
            SyntheticCheckpoints.Write(_dir, SyntheticCheckpoints.Small(ModelFamily.Qwen2Moe, DType.F32), "hf"), "qw", PageRows: 32));
        var deepseek = _dir.Sub("deepseek2-hf");
        SyntheticModelGenerator.WriteHf(new SyntheticModelSpec
        {
            Family = ModelFamily.Deepseek2, Layers = 3, Dim = 64, Heads = 4, ExpertHidden = 32, Experts = 8, TopK = 3,
            ExpertGroups = 4, GroupsUsed = 2, Vocab = 300, Context = 128, Seed = 5, YarnFactor = 4, MscaleAllDim = 1,
        }, deepseek);
        converter.Convert(new ConversionRequest(deepseek, "ds", PageRows: 16));
        foreach (var name in new[] { "mix", "qw", "ds" }) _pristine[name] = File.ReadAllText(ManifestPath(name));
    }

    public string Data { get; }

    public ModelCatalog Catalog { get; }

    /// <summary>The mixtral source folder, to convert more models from.</summary>
    public string Mixtral { get; }

    public string ManifestPath(string model) => Path.Combine(Catalog.ModelDir(model), ManifestFile.FileName);

    public void Restore(string model) => File.WriteAllText(ManifestPath(model), _pristine[model]);

    public JsonObject Pristine(string model) => JsonNode.Parse(_pristine[model])!.AsObject();

    /// <summary>Writes the edited manifest as it is: the checksum no longer matches.</summary>
    public void WriteRaw(string model, JsonObject manifest) => File.WriteAllText(ManifestPath(model), manifest.ToJsonString());

    /// <summary>Writes the edited manifest through vib3's own writer, which computes a checksum over the edited values:
    /// what is left for the reader to catch is what validation catches.</summary>
    public void WriteWithChecksum(string model, JsonObject manifest) =>
        ManifestFile.Write(Catalog.ModelDir(model), manifest.Deserialize<ModelManifest>(Lenient)!);

    /// <summary>Reads back what the test wrote, whatever it holds (no nullability or range checks: that is the reader's job).</summary>
    private static readonly JsonSerializerOptions Lenient = new(JsonSerializerDefaults.Web);

    public void Dispose() => _dir.Dispose();
}
