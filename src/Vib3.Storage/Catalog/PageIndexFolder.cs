using Vib3.Storage.Device;

namespace Vib3.Storage.Catalog;

/// <summary>A model's page index: the folder &lt;model&gt;/index/ holding one <see cref="PageKeyFile"/> per MoE layer,
/// when built a <see cref="NeuronKeyFile"/> per layer (and, when calibrated, <see cref="RetrievalCalibrationFile"/>), and an HNSW graph file per layer beside them (layer-LLL.hnsw, written by the caller: the store does not
/// know the graph format). The folder is built whole under a temporary name and
/// published by one rename, so a crash leaves either the previous index, none, or the new one — never a mix of
/// layers from two builds or a half-written file.</summary>
public static class PageIndexFolder
{
    public const string Name = "index";

    public static string Dir(string modelDir) => Path.Combine(modelDir, Name);

    public static bool Exists(string modelDir) => Directory.Exists(Dir(modelDir));

    /// <summary>The graph file of <paramref name="layer"/>, beside its keys.</summary>
    public static string GraphFileName(int layer) => Path.ChangeExtension(PageKeyFile.FileName(layer), ".hnsw");

    /// <summary>The layer's graph file in the published index, or null when it has none.</summary>
    public static string? GraphPath(string modelDir, int layer)
    {
        var path = Path.Combine(Dir(modelDir), GraphFileName(layer));
        return File.Exists(path) ? path : null;
    }

    /// <summary>The layers' headers in layer order (keys not read), their key files' bytes and their graph files
    /// (null: none), or empty when there is no index.</summary>
    public static IReadOnlyList<(PageKeyLayer Header, string Path, long Bytes, string? Graph)> Headers(string modelDir)
    {
        var dir = Dir(modelDir);
        if (!Directory.Exists(dir)) return [];
        return Directory.EnumerateFiles(dir, "layer-*.keys").Order(StringComparer.Ordinal)
            .Select(p => PageKeyFile.ReadHeader(p) is var h ? (h, p, new FileInfo(p).Length, GraphPath(modelDir, h.Layer)) : default)
            .ToArray();
    }

    /// <summary>Every layer's keys, checksums verified.</summary>
    public static IReadOnlyList<PageKeyLayer> Read(string modelDir) =>
        Directory.EnumerateFiles(Dir(modelDir), "layer-*.keys").Order(StringComparer.Ordinal).Select(PageKeyFile.Read).ToArray();

    /// <summary>What <paramref name="layer"/>'s neuron keys in the published index are (header only), or null when it has none.</summary>
    public static NeuronKeyHeader? NeuronKeys(string modelDir, int layer)
    {
        var path = Path.Combine(Dir(modelDir), NeuronKeyFile.FileName(layer));
        return File.Exists(path) ? NeuronKeyFile.ReadHeader(path) : null;
    }

    /// <summary>The published index's retrieval calibration, or null when it has none (or there is no index).</summary>
    public static RetrievalCalibration? ReadCalibration(string modelDir)
    {
        var path = Path.Combine(Dir(modelDir), RetrievalCalibrationFile.FileName);
        return File.Exists(path) ? RetrievalCalibrationFile.Read(path) : null;
    }

    /// <summary>Every layer's neuron keys, checksums verified; empty when the index has none.</summary>
    public static IReadOnlyList<NeuronKeyLayer> ReadNeurons(string modelDir) =>
        Directory.EnumerateFiles(Dir(modelDir), "layer-*.neurons").Order(StringComparer.Ordinal).Select(NeuronKeyFile.Read).ToArray();

    /// <summary>Writes <paramref name="layers"/> (and <paramref name="neurons"/>, when given) as the model's index,
    /// replacing any previous one; <paramref name="writeGraph"/> (when given) writes each layer's graph to the path it is
    /// handed, flushed to disk, before the folder is published.</summary>
    public static void Publish(string modelDir, IEnumerable<PageKeyLayer> layers, Action<PageKeyLayer, string>? writeGraph = null,
        IEnumerable<NeuronKeyLayer>? neurons = null, RetrievalCalibration? calibration = null)
    {
        var staging = Path.Combine(modelDir, $"{Name}.tmp-{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        try
        {
            foreach (var layer in layers)
            {
                PageKeyFile.Write(Path.Combine(staging, PageKeyFile.FileName(layer.Layer)), layer);
                writeGraph?.Invoke(layer, Path.Combine(staging, GraphFileName(layer.Layer)));
            }
            foreach (var layer in neurons ?? []) NeuronKeyFile.Write(Path.Combine(staging, NeuronKeyFile.FileName(layer.Layer)), layer);
            if (calibration is not null) RetrievalCalibrationFile.Write(Path.Combine(staging, RetrievalCalibrationFile.FileName), calibration);
            FileSync.FsyncDirectory(staging);
            // rename(2) cannot replace a non-empty folder: the old index steps aside first (a crash in this window
            // leaves no index, which CREATE INDEX rebuilds, never a torn one).
            var old = Exists(modelDir) ? Path.Combine(modelDir, $"{Name}.old-{Guid.NewGuid():N}") : null;
            if (old is not null) Directory.Move(Dir(modelDir), old);
            Directory.Move(staging, Dir(modelDir));
            FileSync.FsyncDirectory(modelDir);
            if (old is not null) Directory.Delete(old, recursive: true);
        }
        catch
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
            throw;
        }
    }

    /// <summary>Removes the index; false when there was none.</summary>
    public static bool Drop(string modelDir)
    {
        if (!Exists(modelDir)) return false;
        var doomed = Path.Combine(modelDir, $"{Name}.old-{Guid.NewGuid():N}");
        Directory.Move(Dir(modelDir), doomed);
        Directory.Delete(doomed, recursive: true);
        return true;
    }
}
