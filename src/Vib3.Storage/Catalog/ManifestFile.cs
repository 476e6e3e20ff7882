using System.Text.Json;
using System.Text.Json.Serialization;
using Vib3.Core;

namespace Vib3.Storage.Catalog;

/// <summary>Reads and writes manifest.json. Writes go to a temporary file, are fsynced, then renamed, so a
/// reader sees the old manifest or the new one, never half of one.</summary>
public static class ManifestFile
{
    public const string FileName = "manifest.json";

    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    public static ModelManifest Read(string storeDir)
    {
        var path = Path.Combine(storeDir, FileName);
        if (!File.Exists(path))
            throw new Vib3Exception(SqlState.UndefinedObject, $"{path}: no manifest (not a vib3 model store)");
        ModelManifest? m;
        try
        {
            m = JsonSerializer.Deserialize<ModelManifest>(File.ReadAllBytes(path), Options);
        }
        catch (JsonException e)
        {
            throw new Vib3Exception(SqlState.DataCorrupted, $"{path}: manifest is not valid: {e.Message}");
        }
        if (m is null)
            throw new Vib3Exception(SqlState.DataCorrupted, $"{path}: manifest is empty");
        if (m.FormatVersion != ModelManifest.CurrentFormatVersion)
            throw new Vib3Exception(SqlState.FeatureNotSupported,
                $"{path}: store format version {m.FormatVersion}, this vib3 reads version {ModelManifest.CurrentFormatVersion}");
        return m;
    }

    public static void Write(string storeDir, ModelManifest manifest)
    {
        var path = Path.Combine(storeDir, FileName);
        var tmp = path + ".tmp";
        using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            JsonSerializer.Serialize(fs, manifest, Options);
            fs.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }
}
