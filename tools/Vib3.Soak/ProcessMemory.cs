namespace Vib3.Soak;

/// <summary>Resident memory of a process, from /proc/PID/status (Linux).</summary>
internal static class ProcessMemory
{
    /// <summary>VmRSS in bytes; null once the process is gone.</summary>
    public static long? RssBytes(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0]) * 1024;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }

    /// <summary>Open file descriptors (sockets included); null once the process is gone.</summary>
    public static int? OpenFiles(int pid)
    {
        try { return Directory.GetFiles($"/proc/{pid}/fd").Length; }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    public static string Mb(long? bytes) => bytes is { } b ? (b / (1024.0 * 1024)).ToString("0") : "?";
}
