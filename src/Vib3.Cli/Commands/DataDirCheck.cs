using Vib3.Core;

namespace Vib3.Cli.Commands;

/// <summary>A server finds out at start, not at its first CREATE MODEL, that its data directory cannot be written
/// (a path through a file, a read-only mount, no permission).</summary>
internal static class DataDirCheck
{
    public static void EnsureWritable(string dataDir)
    {
        var probe = Path.Combine(dataDir, $".vib3-write-check-{Environment.ProcessId}");
        try
        {
            Directory.CreateDirectory(dataDir);
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new Vib3Exception(SqlState.IoError, $"data directory {dataDir} is not writable: {e.Message}");
        }
    }
}
