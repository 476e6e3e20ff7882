using System.Text.Json;
using Vib3.Core;

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
                list.Add(JsonSerializer.Deserialize<FamilyDescriptor>(File.ReadAllBytes(file), Options)
                         ?? throw new JsonException("empty document"));
            }
            catch (JsonException e)
            {
                throw new Vib3Exception(SqlState.DataCorrupted, $"{file}: invalid architecture descriptor: {e.Message}");
            }
        }
        return new DescriptorCatalog(list);
    }

    public FamilyDescriptor? ForHfArchitecture(string architecture) =>
        Families.FirstOrDefault(f => f.Hf.Architectures.Contains(architecture, StringComparer.Ordinal));

    public FamilyDescriptor? ForGgufArchitecture(string architecture) =>
        Families.FirstOrDefault(f => f.Gguf.Architecture == architecture);

    public string SupportedHf => string.Join(", ", Families.SelectMany(f => f.Hf.Architectures));

    public string SupportedGguf => string.Join(", ", Families.Select(f => f.Gguf.Architecture).Distinct());
}
