using System.Diagnostics;

namespace Vib3.Bench;

/// <summary>The disk's O_DIRECT read bandwidth on the files a store streams from: dd iflag=direct in 2 MiB blocks,
/// several ranges in flight at once (one dd is one read in flight, which undersells an NVMe that the store's own
/// reads keep busy). This is the numerator of the disk-bandwidth bound, so it is read as the store would read.</summary>
internal static class DiskBandwidth
{
    private const long BlockBytes = 2L << 20;

    /// <summary>MB/s (10^6 bytes) over reading every byte of <paramref name="files"/> once, OS cache dropped first.</summary>
    public static double MeasureMBps(IReadOnlyList<string> files, int inFlight)
    {
        var ranges = files.SelectMany(f => Split(f, new FileInfo(f).Length, inFlight)).ToList();
        var bytes = files.Sum(f => new FileInfo(f).Length);
        Cache.Drop();
        var clock = Stopwatch.StartNew();
        Parallel.ForEach(ranges, new ParallelOptions { MaxDegreeOfParallelism = inFlight }, r => Dd(r.File, r.Skip, r.Count));
        return bytes / 1e6 / clock.Elapsed.TotalSeconds;
    }

    /// <summary>A file as up to <paramref name="parts"/> ranges of whole blocks (skip, count), so that a few large
    /// segment files still give every reader in flight a share.</summary>
    private static IEnumerable<(string File, long Skip, long Count)> Split(string file, long length, int parts)
    {
        var blocks = (length + BlockBytes - 1) / BlockBytes;
        var per = Math.Max(1, (blocks + parts - 1) / parts);
        for (long skip = 0; skip < blocks; skip += per) yield return (file, skip, Math.Min(per, blocks - skip));
    }

    private static void Dd(string file, long skip, long count)
    {
        var psi = new ProcessStartInfo("dd") { RedirectStandardError = true };
        foreach (var a in new[] { $"if={file}", "of=/dev/null", "iflag=direct", "bs=2M", $"skip={skip}", $"count={count}", "status=none" })
            psi.ArgumentList.Add(a);
        using var dd = Process.Start(psi) ?? throw new InvalidOperationException("cannot start dd");
        var err = dd.StandardError.ReadToEnd();
        dd.WaitForExit();
        if (dd.ExitCode != 0) throw new InvalidOperationException($"dd on {file} failed: {err.Trim()}");
    }
}
