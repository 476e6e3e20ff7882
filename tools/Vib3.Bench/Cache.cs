namespace Vib3.Bench;

/// <summary>Empties the OS page cache (root only) so cold reads really come from the disk.</summary>
internal static class Cache
{
    private const string DropFile = "/proc/sys/vm/drop_caches";

    public static bool CanDrop { get; } = TryDrop();

    public static void Drop() => TryDrop();

    private static bool TryDrop()
    {
        try
        {
            using (var sync = System.Diagnostics.Process.Start("sync")) sync?.WaitForExit();
            File.WriteAllText(DropFile, "3");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
