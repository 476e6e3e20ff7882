using System.Diagnostics;
using System.Globalization;

namespace Vib3.Bench;

/// <summary>The disk's O_DIRECT read bandwidth on the files a store streams from: dd iflag=direct, several ranges in
/// flight at once (one dd is one read in flight, which undersells an NVMe that the store's own reads keep busy). This
/// is the numerator of the disk-bandwidth bound, so it must not undersell the disk: the bound would flatter vib3. A
/// virtual disk's bandwidth drifts by ±10 % from one pass to the next and grows with block size and queue depth, so
/// <see cref="Best"/> tries a few shapes and keeps the fastest pass.</summary>
internal static class DiskBandwidth
{
    /// <summary>The fastest of two passes of each shape: 2 MiB blocks (about a page) at <paramref name="inFlight"/>
    /// and twice that, and 8 MiB blocks at <paramref name="inFlight"/>. Prints every pass.</summary>
    public static (double MBps, string Shape) Best(IReadOnlyList<string> files, int inFlight)
    {
        var best = (MBps: 0.0, Shape: "");
        foreach (var (blockMiB, depth) in new[] { (2, inFlight), (2, 2 * inFlight), (8, inFlight) })
            for (var pass = 0; pass < 2; pass++)
            {
                var mbps = MeasureMBps(files, blockMiB << 20, depth);
                var shape = $"{blockMiB} MiB reads, {depth} in flight";
                Console.WriteLine($"  disk pass: {mbps:0} MB/s ({shape})");
                if (mbps > best.MBps) best = (mbps, shape);
            }
        return best;
    }

    /// <summary>MB/s (10^6 bytes) over reading every byte of <paramref name="files"/> once, OS cache dropped first.</summary>
    private static double MeasureMBps(IReadOnlyList<string> files, long blockBytes, int inFlight)
    {
        var ranges = files.SelectMany(f => Split(f, new FileInfo(f).Length, blockBytes, inFlight)).ToList();
        var bytes = files.Sum(f => new FileInfo(f).Length);
        Cache.Drop();
        var clock = Stopwatch.StartNew();
        Parallel.ForEach(ranges, new ParallelOptions { MaxDegreeOfParallelism = inFlight }, r => Dd(r.File, blockBytes, r.Skip, r.Count));
        return bytes / 1e6 / clock.Elapsed.TotalSeconds;
    }

    /// <summary>A file as up to <paramref name="parts"/> ranges of whole blocks (skip, count), so that a few large
    /// segment files still give every reader in flight a share.</summary>
    private static IEnumerable<(string File, long Skip, long Count)> Split(string file, long length, long blockBytes, int parts)
    {
        var blocks = (length + blockBytes - 1) / blockBytes;
        var per = Math.Max(1, (blocks + parts - 1) / parts);
        for (long skip = 0; skip < blocks; skip += per) yield return (file, skip, Math.Min(per, blocks - skip));
    }

    private static void Dd(string file, long blockBytes, long skip, long count)
    {
        var psi = new ProcessStartInfo("dd") { RedirectStandardError = true };
        foreach (var a in new[] { $"if={file}", "of=/dev/null", "iflag=direct", $"bs={blockBytes.ToString(CultureInfo.InvariantCulture)}",
                     $"skip={skip}", $"count={count}", "status=none" })
            psi.ArgumentList.Add(a);
        using var dd = Process.Start(psi) ?? throw new InvalidOperationException("cannot start dd");
        var err = dd.StandardError.ReadToEnd();
        dd.WaitForExit();
        if (dd.ExitCode != 0) throw new InvalidOperationException($"dd on {file} failed: {err.Trim()}");
    }
}
