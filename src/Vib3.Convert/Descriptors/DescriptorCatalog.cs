using System.Text.Json;
using Vib3.Core;
using Vib3.Storage.Catalog;

namespace Vib3.Convert.Descriptors;

/// <summary>The architecture descriptors shipped in catalog/families (copied beside the binary at build).</summary>
public sealed class DescriptorCatalog
{
    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        ReadCommentHandling = JsonCommentHandling.Skip,
    };

    private DescriptorCatalog(IReadOnlyList<FamilyDescriptor> families)
    {
        Families = families;
    }

    public IReadOnlyList<FamilyDescriptor> Families { get; }

    public static DescriptorCatalog LoadDefault() =>
        Load(Path.Combine(AppContext.BaseDirectory, "catalog", "families"));

    public static DescriptorCatalog Load(string dir)
    {
        if (!Directory.Exists(dir))
            throw new Vib3Exception(SqlState.UndefinedObject, $"{dir}: architecture descriptors are missing (broken install?)");
        var list = new List<FamilyDescriptor>();
        foreach (var file in Directory.EnumerateFiles(dir, "*.json").Order(StringComparer.Ordinal))
        {
            try
            {
                var family = JsonSerializer.Deserialize<FamilyDescriptor>(File.ReadAllBytes(file), Options)
                             ?? throw new JsonException("empty document");
                CheckAgainstSchema(file, family);
                list.Add(family);
            }
            catch (JsonException e)
            {
                throw new Vib3Exception(SqlState.DataCorrupted, $"{file}: invalid architecture descriptor: {e.Message}");
            }
        }
        return new DescriptorCatalog(list);
    }

    /// <summary>A family is a selection of the one <see cref="LayerSchema"/>: each tensor it names must be one the
    /// forward pass reads, with the schema's role, in the layers the schema allows it (otherwise a conversion would
    /// store a tensor no operator reads, or the manifest it publishes would be refused only at the end).</summary>
    private static void CheckAgainstSchema(string file, FamilyDescriptor family)
    {
        foreach (var t in family.Tensors)
        {
            var baseName = t.PerLayer ? t.Name.Replace("blk.{l}.", "", StringComparison.Ordinal) : t.Name;
            var where = $"{file}: tensor \"{t.Name}\"";
            if (LayerSchema.Find(baseName) is not { } schema)
                throw new Vib3Exception(SqlState.DataCorrupted, $"{where} is not a tensor the forward pass reads");
            if (schema.Role != t.Role)
                throw new Vib3Exception(SqlState.DataCorrupted, $"{where} has role \"{t.Role}\", the layer schema's is \"{schema.Role}\"");
            var place = t.Layers switch { "dense" => TensorPlace.DenseLayer, "moe" => TensorPlace.MoeLayer, _ => TensorPlace.AnyLayer };
            var fits = t.PerLayer
                ? schema.Place != TensorPlace.Model && !((place, schema.Place) is (TensorPlace.DenseLayer, TensorPlace.MoeLayer) or (TensorPlace.MoeLayer, TensorPlace.DenseLayer))
                : schema.Place == TensorPlace.Model;
            if (!fits)
                throw new Vib3Exception(SqlState.DataCorrupted,
                    $"{where} is placed in {(t.PerLayer ? t.Layers ?? "every" : "no")} layer(s), the layer schema puts it in {schema.Place}");
        }
    }

    public FamilyDescriptor? ForHfArchitecture(string architecture) =>
        Families.FirstOrDefault(f => f.Hf.Architectures.Contains(architecture, StringComparer.Ordinal));

    public FamilyDescriptor? ForGgufArchitecture(string architecture) =>
        Families.FirstOrDefault(f => f.Gguf.Architecture == architecture);

    public string SupportedHf => string.Join(", ", Families.SelectMany(f => f.Hf.Architectures));

    public string SupportedGguf => string.Join(", ", Families.Select(f => f.Gguf.Architecture).Distinct());
}
