using System.Globalization;

namespace Vib3.Server.PgWire;

/// <summary>File descriptors (files and sockets) of this process, from /proc (Linux); null where that is unknown.</summary>
internal static class OpenFilesLimit
{
    /// <summary>How many this process has open now (the runtime alone keeps about 90: each assembly, pipes, stdio).</summary>
    public static int? OpenNow() => Directory.Exists("/proc/self/fd") ? Directory.GetFileSystemEntries("/proc/self/fd").Length : null;

    /// <summary>How many it may have open: the soft RLIMIT_NOFILE, which .NET raises to the hard limit at startup;
    /// null when unlimited or unknown.</summary>
    public static long? Current()
    {
        const string path = "/proc/self/limits";
        if (!File.Exists(path)) return null;
        foreach (var line in File.ReadLines(path))
        {
            // "Max open files            1024                 1048576              files"
            if (!line.StartsWith("Max open files", StringComparison.Ordinal)) continue;
            var fields = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return fields.Length > 0 && long.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out var soft) ? soft : null;
        }
        return null;
    }
}
