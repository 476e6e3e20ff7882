using System.Text.RegularExpressions;
using Vib3.Core;
using Vib3.Storage.Device;

namespace Vib3.Storage.Catalog;

/// <summary>The models in a data directory. Layout:
///   &lt;data&gt;/models/&lt;name&gt;/      a finished store (manifest.json, pages.tbl, log/, tokenizer/)
///   &lt;data&gt;/staging/&lt;name&gt;.&lt;id&gt;/ a conversion in progress, invisible to the catalog
/// A store enters models/ by one rename(2) of its finished staging folder, so a model is either fully
/// there or absent, whatever kills the conversion.</summary>
public sealed partial class ModelCatalog
{
    public ModelCatalog(string dataDir)
    {
        DataDir = Path.GetFullPath(dataDir);
    }

    public string DataDir { get; }

    private string ModelsDir => Path.Combine(DataDir, "models");

    private string StagingDir => Path.Combine(DataDir, "staging");

    /// <summary>--data-dir, else VIB3_DATA_DIR, else ~/.vib3.</summary>
    public static string ResolveDataDir(string? explicitDir)
    {
        if (!string.IsNullOrWhiteSpace(explicitDir)) return explicitDir;
        var env = Environment.GetEnvironmentVariable("VIB3_DATA_DIR");
        if (!string.IsNullOrWhiteSpace(env)) return env;
        return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".vib3");
    }

    public static void ValidateName(string name)
    {
        if (!NamePattern().IsMatch(name))
            throw new Vib3Exception(SqlState.InvalidParameterValue,
                $"invalid model name '{name}': use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit");
    }

    public string ModelDir(string name) => Path.Combine(ModelsDir, name);

    /// <summary>Whether a finished model of this name is in the catalog; a name that cannot be a model's (one with
    /// '/' or '..') is not looked up at all, so it cannot probe the disk outside the catalog.</summary>
    public bool Exists(string name) => NamePattern().IsMatch(name) && File.Exists(Path.Combine(ModelDir(name), ManifestFile.FileName));

    public ModelManifest Get(string name)
    {
        ValidateName(name);
        if (!Directory.Exists(ModelDir(name)))
            throw new Vib3Exception(SqlState.UndefinedObject, $"model '{name}' does not exist in {ModelsDir}");
        return ManifestFile.Read(ModelDir(name), name);
    }

    /// <summary>Every model, by name; stores whose manifest cannot be read or is corrupt are reported with their error,
    /// not hidden, and do not stop the others from being listed. Only manifests are read (page tables are checked when
    /// a model is opened).</summary>
    public IReadOnlyList<(string Name, ModelManifest? Manifest, string? Error)> List()
    {
        if (!Directory.Exists(ModelsDir)) return [];
        var result = new List<(string, ModelManifest?, string?)>();
        foreach (var dir in Directory.EnumerateDirectories(ModelsDir).Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(dir);
            try { result.Add((name, ManifestFile.Read(dir, name), null)); }
            catch (Vib3Exception e) { result.Add((name, null, e.Message)); }
        }
        return result;
    }

    /// <summary>Claims a staging folder for a new model; fails at once if the name is taken.
    /// Staging folders left by conversions whose process is gone are removed first.</summary>
    public StagingArea BeginStaging(string name)
    {
        ValidateName(name);
        if (Directory.Exists(ModelDir(name)))
            throw new Vib3Exception(SqlState.DuplicateObject, $"model '{name}' already exists in {ModelsDir}");
        RemoveAbandonedStaging();
        return StagingArea.Create(StagingDir, name);
    }

    /// <summary>Writes the manifest and makes the store visible with one atomic rename. A manifest that reading it
    /// back would refuse is not published.</summary>
    public void Publish(StagingArea staging, ModelManifest manifest)
    {
        ManifestValidator.Validate(manifest, staging.Name);
        ManifestFile.Write(staging.Dir, manifest);
        FileSync.FsyncDirectory(staging.Dir);
        Directory.CreateDirectory(ModelsDir);
        try
        {
            Directory.Move(staging.Dir, ModelDir(staging.Name));
        }
        catch (IOException) when (Directory.Exists(ModelDir(staging.Name)))
        {
            throw new Vib3Exception(SqlState.DuplicateObject,
                $"model '{staging.Name}' was created by someone else while converting; this conversion is discarded");
        }
        staging.MarkPublished();
        try
        {
            FileSync.FsyncDirectory(ModelsDir);
        }
        catch (Exception e) when (e is IOException or Vib3Exception)
        {
            throw new Vib3Exception(SqlState.IoError,
                $"model '{staging.Name}' is published, but syncing {ModelsDir} to disk failed (a crash now could lose it): {e.Message}", e);
        }
    }

    /// <summary>Removes a stored model, readable or not; the rename out of models/ comes first so readers never see
    /// it half-deleted.</summary>
    public void Drop(string name)
    {
        ValidateName(name);
        if (!Directory.Exists(ModelDir(name)))
            throw new Vib3Exception(SqlState.UndefinedObject, $"model '{name}' does not exist in {ModelsDir}");
        using var doomed = StagingArea.Reserve(StagingDir, name + ".dropped");
        Directory.Move(ModelDir(name), doomed.Dir);
    }

    private void RemoveAbandonedStaging() => StagingArea.RemoveAbandoned(StagingDir);

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex NamePattern();
}
