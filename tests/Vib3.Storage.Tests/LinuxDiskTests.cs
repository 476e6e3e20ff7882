using System.Diagnostics;
using System.Runtime.InteropServices;
using Vib3.Core;
using Vib3.Storage.Device;

namespace Vib3.Storage.Tests;

/// <summary>Tests that need real Linux file systems: tmpfs for ENOSPC, ext4/xfs for O_DIRECT.</summary>
public class LinuxDiskTests
{
    [Fact]
    public void DiskFull_SurfacesAsDiskFull_NotAHang()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "needs Linux: mount(8) and tmpfs");
        using var parent = new TempStore();
        string mnt = Path.Combine(parent.Dir, "tiny");
        Directory.CreateDirectory(mnt);
        // Not root / no CAP_SYS_ADMIN: there is no safe way to get a small file system here.
        if (!TryRun("mount", $"-t tmpfs -o size=2m tmpfs {mnt}", out string refused))
            Assert.Skip($"needs root to mount a 2 MiB tmpfs; mount said: {refused.Trim().Split('\n')[0]}");
        try
        {
            string dir = Path.Combine(mnt, "store");
            var page = new byte[64 * 1024];
            new Random(1).NextBytes(page);
            var ex = Assert.Throws<Vib3Exception>(() =>
            {
                using var writer = PageLogWriter.Create(dir, page.Length);
                for (int i = 0; i < 80; i++) writer.Append(page); // 5 MiB into 2 MiB
                writer.Complete();
            });
            Assert.Equal(SqlState.DiskFull, ex.SqlState);
            Assert.StartsWith("disk full writing ", ex.Message);
            Console.WriteLine($"DiskFull message: {ex.Message}");
        }
        finally
        {
            TryRun("umount", mnt, out _);
        }
    }

    [Fact]
    public async Task BufferedFallback_ReadsCorrectly_AndDropsWhatItReadFromThePageCache()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "the fallback is part of the Linux O_DIRECT device");
        using var store = new TempStore().Write(count: 100, minLen: 1, maxLen: 50_000, seed: 41);
        string segment = store.SegmentPath(0);
        DropFromPageCache(segment);
        // The file system refuses O_DIRECT (EINVAL) when the device opens the segment: it falls back, and says so.
        using var pages = store.Open(devices: RefusingDirectIoOpener.Devices);
        Assert.False(pages.IsDirectIo);
        for (int i = 0; i < store.Pages.Count; i++)
        {
            using var lease = await pages.ReadAsync(i);
            Assert.True(lease.Memory.Span.SequenceEqual(store.Pages[i]));
        }
        // Read-ahead is off (FADV_RANDOM) and every read range is dropped (FADV_DONTNEED).
        Assert.Equal(0, ResidentPages(segment));
    }

    /// <summary>Only EINVAL means "this file system has no O_DIRECT"; any other refusal is an error the user sees,
    /// never a quiet switch to buffered reads.</summary>
    [Fact]
    public void OpenFailingForAnotherReason_IsAnIoError_NotAFallback()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "the fallback is part of the Linux O_DIRECT device");
        using var store = new TempStore().Write(count: 3, minLen: 1, maxLen: 5_000, seed: 43);
        var ex = Assert.Throws<Vib3Exception>(() => store.Open(devices: new StoreDevices(new DirectIoDenied())));
        Assert.Equal(SqlState.IoError, ex.SqlState);
        Assert.Contains($"open {store.SegmentPath(0)} failed: ", ex.Message);
        Assert.Contains("(errno 13)", ex.Message);
    }

    /// <summary>Refuses O_DIRECT opens with EACCES (as a security module might), opens buffered ones for real.</summary>
    private sealed class DirectIoDenied : ISegmentOpener
    {
        private const int EACCES = 13;

        public int Open(string path, bool readOnly, bool direct) =>
            direct ? -EACCES : PosixSegmentOpener.Instance.Open(path, readOnly, direct: false);
    }

    [Fact]
    public async Task DirectIoReads_AreBoundedByReadsInFlight()
    {
        using var store = new TempStore().Write(count: 100, minLen: 1_000, maxLen: 30_000, seed: 51);
        using var pages = store.Open(readsInFlight: 4);
        await pages.ReadManyAsync(Enumerable.Range(0, 100).ToArray(), (_, _) => ValueTask.CompletedTask);
        Assert.InRange(pages.PeakReadsInFlight, OperatingSystem.IsLinux() ? 1 : 0, 4);
        Assert.Equal(100, pages.Stats.Misses);
    }

    [Fact]
    public async Task DirectIoReads_LeaveNoSegmentPagesInTheOsPageCache()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "O_DIRECT and mincore are Linux-only");
        using var store = new TempStore().Write(count: 200, minLen: 30_000, maxLen: 70_000, seed: 31);
        string segment = store.SegmentPath(0);
        DropFromPageCache(segment);
        Assert.Equal(0, ResidentPages(segment));

        using var pages = store.Open(directIo: true);
        Assert.True(pages.IsDirectIo, "the temp dir's file system refused O_DIRECT");
        for (int i = 0; i < store.Pages.Count; i++)
        {
            using var lease = await pages.ReadAsync(i);
            Assert.True(lease.Memory.Span.SequenceEqual(store.Pages[i]));
        }
        Assert.Equal(0, ResidentPages(segment));

        // Control: the buffered device leaves the file in the page cache, so the probe works.
        using var buffered = store.Open(directIo: false);
        for (int i = 0; i < store.Pages.Count; i++)
            using (await buffered.ReadAsync(i)) { }
        Assert.True(ResidentPages(segment) > 0);
        DropFromPageCache(segment);
    }

    private static void DropFromPageCache(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read);
        fs.Flush();
        int rc = LibC.PosixFadvise((int)fs.SafeFileHandle.DangerousGetHandle(), 0, 0, LibC.POSIX_FADV_DONTNEED);
        Assert.Equal(0, rc);
    }

    /// <summary>Pages of the file resident in the OS page cache, from mincore(2) over a mapping.</summary>
    private static unsafe long ResidentPages(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read);
        long length = fs.Length;
        int fd = (int)fs.SafeFileHandle.DangerousGetHandle();
        nint map = LibC.Mmap(0, (nuint)length, LibC.PROT_READ, LibC.MAP_SHARED, fd, 0);
        Assert.NotEqual(-1, map);
        try
        {
            long osPage = Environment.SystemPageSize;
            var vec = new byte[(length + osPage - 1) / osPage];
            fixed (byte* v = vec)
                Assert.Equal(0, LibC.Mincore(map, (nuint)length, v));
            return vec.Count(b => (b & 1) != 0);
        }
        finally { LibC.Munmap(map, (nuint)length); }
    }

    private static bool TryRun(string file, string args, out string output)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo(file, args)
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
            })!;
            output = p.StandardError.ReadToEnd() + p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return p.ExitCode == 0;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            output = e.Message;
            return false;
        }
    }
}
