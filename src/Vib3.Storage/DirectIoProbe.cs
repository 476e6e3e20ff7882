using Vib3.Core;
using Vib3.Storage.Device;

namespace Vib3.Storage;

/// <summary>Whether page stores under a folder will read with O_DIRECT, found the way a store finds it (opening a
/// file there with O_DIRECT; tmpfs and some overlays refuse it and the store falls back to buffered reads through
/// the OS page cache). For `vib3 serve`'s banner, before any model is open.</summary>
public static class DirectIoProbe
{
    /// <summary>True when O_DIRECT opens a scratch file in <paramref name="dir"/>; false when refused or off Linux.</summary>
    public static bool Supported(string dir)
    {
        if (!OperatingSystem.IsLinux()) return false;
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, $".direct-io-probe.{Environment.ProcessId}");
        try
        {
            using var file = SegmentFile.Open(path, readOnly: false, PosixSegmentOpener.Instance);
            return file.IsDirect;
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>One line for a banner; an unwritable folder is reported, not thrown (opening a model will say more).</summary>
    public static string Describe(string dir)
    {
        try
        {
            return Supported(dir)
                ? "page reads: direct I/O (O_DIRECT)"
                : "page reads: buffered through the OS page cache (the file system refuses O_DIRECT)";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Vib3Exception)
        {
            return $"page reads: direct I/O unknown ({e.Message})";
        }
    }
}
