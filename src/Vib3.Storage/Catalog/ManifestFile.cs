using System.IO.Hashing;
using System.Text.Json;
using System.Text.Json.Serialization;
using Vib3.Core;

namespace Vib3.Storage.Catalog;

/// <summary>Reads and writes manifest.json. Writes go to a temporary file, are fsynced, then renamed, so a
/// reader sees the old manifest or the new one, never half of one (and a conversion publishes the whole store folder
/// with one more rename). The file stays plain, indented JSON; its <see cref="ModelManifest.Checksum"/> field is the
/// XxHash64 of the manifest serialised without that field, so any change to a value (not to whitespace) is caught,
/// and what parses and matches is then validated (<see cref="ManifestValidator"/>) before anyone uses it.</summary>
public static class ManifestFile
{
    public const string FileName = "manifest.json";

    /// <summary>Largest manifest read (the biggest models' manifests are well under 1 MiB); a bigger file is corrupt.</summary>
    public const int MaxBytes = 16 << 20;

    private const string ChecksumPrefix = "xxh64:";

    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        RespectNullableAnnotations = true,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>The manifest of model <paramref name="model"/>, whose store is <paramref name="storeDir"/>: parsed,
    /// its checksum verified and its contents validated; any failure is one XX001 line naming the model.</summary>
    public static ModelManifest Read(string storeDir, string model)
    {
        var path = Path.Combine(storeDir, FileName);
        if (!File.Exists(path))
            throw new Vib3Exception(SqlState.UndefinedObject, $"{path}: no manifest (not a vib3 model store)");
        var bytes = ReadBounded(path, model);
        CheckFormatVersion(bytes, model);
        ModelManifest? m;
        try
        {
            m = JsonSerializer.Deserialize<ModelManifest>(bytes, Options);
        }
        catch (JsonException e)
        {
            throw ManifestValidator.Corrupt(model, e.Message);
        }
        if (m is null)
            throw ManifestValidator.Corrupt(model, "it is null");
        if (m.Checksum is null)
            throw ManifestValidator.Corrupt(model, "it has no checksum");
        var actual = ChecksumOf(m);
        if (m.Checksum != actual)
            throw ManifestValidator.Corrupt(model, $"checksum mismatch (its contents hash to {actual}, its checksum field says {m.Checksum}): it was changed after conversion");
        ManifestValidator.Validate(m, model);
        return m;
    }

    /// <summary>Writes the manifest with its checksum (set on <paramref name="manifest"/>).</summary>
    public static void Write(string storeDir, ModelManifest manifest)
    {
        manifest.Checksum = ChecksumOf(manifest);
        var path = Path.Combine(storeDir, FileName);
        var tmp = path + ".tmp";
        using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            JsonSerializer.Serialize(fs, manifest, Options);
            fs.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>The checksum field's value: the hash of the manifest serialised as it is written, without the field.
    /// Hashing the parsed values rather than the file's bytes leaves the file free to be re-indented.</summary>
    private static string ChecksumOf(ModelManifest manifest)
    {
        var saved = manifest.Checksum;
        manifest.Checksum = null;
        try
        {
            return ChecksumPrefix + XxHash64.HashToUInt64(JsonSerializer.SerializeToUtf8Bytes(manifest, Options)).ToString("x16");
        }
        finally
        {
            manifest.Checksum = saved;
        }
    }

    private static byte[] ReadBounded(string path, string model)
    {
        try
        {
            using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            var buffer = new MemoryStream();
            var chunk = new byte[1 << 16];
            int n;
            while ((n = fs.Read(chunk)) > 0)
            {
                if (buffer.Length + n > MaxBytes)
                    throw ManifestValidator.Corrupt(model, $"it is larger than {MaxBytes} bytes");
                buffer.Write(chunk, 0, n);
            }
            return buffer.ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new Vib3Exception(SqlState.IoError, $"cannot read model {model}'s manifest: {e.Message}", e);
        }
    }

    /// <summary>Another version's manifest is refused before its fields are read: they may mean other things.</summary>
    private static void CheckFormatVersion(byte[] bytes, string model)
    {
        int version;
        try
        {
            using var doc = JsonDocument.Parse(bytes);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw ManifestValidator.Corrupt(model, $"it is a JSON {doc.RootElement.ValueKind.ToString().ToLowerInvariant()}, not an object");
            if (!doc.RootElement.TryGetProperty("formatVersion", out var v) || v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out version))
                throw ManifestValidator.Corrupt(model, "formatVersion is missing or not a whole number");
        }
        catch (JsonException e)
        {
            throw ManifestValidator.Corrupt(model, e.Message);
        }
        if (version != ModelManifest.CurrentFormatVersion)
            throw StoreFormat.Unreadable(model, $"its manifest is format {version}; this vib3 reads format {ModelManifest.CurrentFormatVersion}",
                older: version < ModelManifest.CurrentFormatVersion);
    }
}
