using Vib3.Core;

namespace Vib3.Convert;

/// <summary>Turns the OS's "no space left on device" into the one clear error vib3 reports for it.</summary>
internal static class DiskErrors
{
    private const int Enospc = 28;

    public static bool IsDiskFull(IOException e) =>
        (e.HResult & 0xFFFF) == Enospc || e.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase) ||
        e.Message.Contains("disk full", StringComparison.OrdinalIgnoreCase);

    public static Vib3Exception DiskFull(string where, Exception e) =>
        new(SqlState.DiskFull, $"disk full while writing {where}: {e.Message}", e);
}
