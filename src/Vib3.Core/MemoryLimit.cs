using System.Globalization;

namespace Vib3.Core;

/// <summary>The memory this process may use, what a default RAM budget is a share of: the machine's (MemTotal in
/// /proc/meminfo) or, when smaller, its cgroup's limit (v2 memory.max, "max" when unlimited; v1
/// memory.limit_in_bytes, a huge number when unlimited), as a container sees them at /sys/fs/cgroup.</summary>
public static class MemoryLimit
{
    /// <summary>The limit and what set it ("the machine's memory", "its cgroup's limit"), or null where none of the
    /// files can be read (not Linux).</summary>
    public static (long Bytes, string Source)? Read() =>
        Of(Text("/proc/meminfo"), Text("/sys/fs/cgroup/memory.max"), Text("/sys/fs/cgroup/memory/memory.limit_in_bytes"));

    /// <summary><see cref="Read"/> on the files' texts (null: absent).</summary>
    public static (long Bytes, string Source)? Of(string? meminfo, string? cgroupV2Max, string? cgroupV1Limit)
    {
        long? machine = null;
        foreach (var line in (meminfo ?? "").Split('\n'))
            if (line.StartsWith("MemTotal:", StringComparison.Ordinal) &&
                long.TryParse(line["MemTotal:".Length..].Trim().Split(' ')[0], NumberStyles.None, CultureInfo.InvariantCulture, out var kib))
                machine = kib * 1024;
        long? cgroup = null;
        foreach (var limit in new[] { cgroupV2Max, cgroupV1Limit })
            if (long.TryParse(limit?.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var bytes) && bytes > 0 && bytes < 1L << 62)
                cgroup = Math.Min(cgroup ?? long.MaxValue, bytes);
        return (machine, cgroup) switch
        {
            ({ } m, { } c) when c < m => (c, "its cgroup's limit"),
            ({ } m, _) => (m, "the machine's memory"),
            (null, { } c) => (c, "its cgroup's limit"),
            _ => null,
        };
    }

    private static string? Text(string path)
    {
        try
        {
            return File.Exists(path) ? File.ReadAllText(path) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
