using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Vib3.Storage.Device;

namespace Vib3.Bench;

/// <summary>The disk's O_DIRECT read bandwidth on the files a store streams from: dd iflag=direct, several ranges in
/// flight at once (one dd is one read in flight, which undersells an NVMe that the store's own reads keep busy). This
/// is the numerator of the disk-bandwidth bound, so it must not undersell the disk: the bound would flatter vib3. A
/// virtual disk's bandwidth drifts by ±10 % from one pass to the next and grows with block size and queue depth, so
/// <see cref="Best"/> tries a few shapes and keeps the fastest pass.</summary>
internal static class DiskBandwidth
{
    /// <summary>The fastest of two passes of each shape: random 2 MiB re-reads (<see cref="RandomRereadMBps"/>); dd over
    /// every byte once in 2 MiB blocks (about a page) at <paramref name="inFlight"/> and twice that, and in 8 MiB blocks
    /// at <paramref name="inFlight"/>. Prints every pass.</summary>
    public static (double MBps, string Shape) Best(IReadOnlyList<string> files, int inFlight)
    {
        var best = (MBps: 0.0, Shape: "");
        var segments = files.Where(f => int.TryParse(Path.GetExtension(f).TrimStart('.'), out _)).ToList();
        var baseName = Path.Combine(Path.GetDirectoryName(segments[0])!, Path.GetFileNameWithoutExtension(segments[0]));
        for (var pass = 0; pass < 2; pass++)
        {
            var mbps = RandomRereadMBps(segments, baseName, 2 << 20, inFlight, passes: 2, seed: pass);
            var shape = $"random 2 MiB re-reads, {inFlight} in flight";
            Console.WriteLine($"  disk pass: {mbps:0} MB/s ({shape})");
            if (mbps > best.MBps) best = (mbps, shape);
        }
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

    /// <summary>
    /// MB/s of what decode does to the disk: <paramref name="blockBytes"/> O_DIRECT reads at random block-aligned
    /// offsets, <paramref name="inFlight"/> outstanding, until <paramref name="passes"/> times the files' bytes are read,
    /// so blocks are read again and again as a cache-starved decode re-reads its pages. A virtual disk can serve such
    /// re-reads from the host's cache, faster than the single pass dd measures; the bound must include that, or the
    /// engine that re-reads looks faster than the disk. Through the store's own O_DIRECT device, without its cache.
    /// </summary>
    public static unsafe double RandomRereadMBps(IReadOnlyList<string> segments, string baseName, int blockBytes, int inFlight, int passes, int seed)
    {
        var lengths = segments.Select(f => new FileInfo(f).Length).ToArray();
        var blocks = lengths.Select(l => (int)(l / blockBytes)).ToArray();
        var ids = segments.Select(f => int.Parse(Path.GetExtension(f)[1..], CultureInfo.InvariantCulture)).ToArray();
        long total = lengths.Sum() * passes, issued = 0, done = 0;
        uint failed = 0; // the first errno, if any read failed
        var rng = new Random(seed);
        using var device = new DirectFileDevice(baseName, readOnly: true, ioThreads: inFlight);
        var buffers = Enumerable.Range(0, inFlight).Select(_ => (nint)NativeMemory.AlignedAlloc((nuint)blockBytes, 4096)).ToArray();
        try
        {
            Cache.Drop();
            using var slots = new SemaphoreSlim(inFlight);
            var free = new System.Collections.Concurrent.ConcurrentBag<nint>(buffers);
            var finished = new CountdownEvent(1);
            var clock = Stopwatch.StartNew();
            while (issued < total)
            {
                slots.Wait();
                var s = rng.Next(segments.Count);
                var offset = (ulong)rng.Next(blocks[s]) * (ulong)blockBytes;
                free.TryTake(out var buffer);
                finished.AddCount();
                issued += blockBytes;
                device.ReadAsync(ids[s], offset, buffer, (uint)blockBytes, (error, bytes, _) =>
                {
                    if (error != 0) Interlocked.CompareExchange(ref failed, error, 0);
                    Interlocked.Add(ref done, bytes);
                    free.Add(buffer);
                    slots.Release();
                    finished.Signal();
                }, null!);
            }
            finished.Signal();
            finished.Wait();
            if (failed != 0) throw new IOException($"a random read of {baseName} failed (errno {failed})");
            return done / 1e6 / clock.Elapsed.TotalSeconds;
        }
        finally
        {
            foreach (var b in buffers) NativeMemory.AlignedFree((void*)b);
        }
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
