using System.Diagnostics;

namespace Vib3.Formats.Tests;

/// <summary>The non-regular and sparse files a hostile model folder can hold, made for real (mkfifo, symlinks,
/// SetLength), and a bounded wait for code that used to block on them.</summary>
public static class SpecialFiles
{
    public static void MakeFifo(string path)
    {
        using var p = Process.Start(new ProcessStartInfo("mkfifo", [path]) { RedirectStandardError = true })!;
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"mkfifo {path}: {p.StandardError.ReadToEnd()}");
    }

    /// <summary>Replaces <paramref name="path"/> with a symlink to <paramref name="target"/>.</summary>
    public static void Symlink(string path, string target)
    {
        File.Delete(path);
        File.CreateSymbolicLink(path, target);
    }

    /// <summary>Extends a file to <paramref name="length"/> bytes without writing them (a sparse file on disk).</summary>
    public static void Extend(string file, long length)
    {
        using var fs = new FileStream(file, FileMode.Open, FileAccess.Write);
        fs.SetLength(length);
    }

    /// <summary>Runs <paramref name="open"/> on another thread and returns what it threw; fails the test if it has not
    /// finished in <paramref name="seconds"/> (a FIFO opened for reading used to block forever).</summary>
    public static Exception? ThrownWithin(Action open, int seconds = 5)
    {
        // A dedicated background thread: if the open still blocks, the test fails and the thread dies with the process.
        var task = Task.Factory.StartNew(open, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        if (!((IAsyncResult)task).AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(seconds)))
            Assert.Fail($"still blocked after {seconds} s");
        return task.Exception?.InnerException;
    }

    /// <summary>Bytes allocated on this thread while <paramref name="action"/> ran, and what it threw.</summary>
    public static (long Bytes, Exception? Error) Allocated(Action action)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            action();
            return (GC.GetAllocatedBytesForCurrentThread() - before, null);
        }
        catch (Exception e)
        {
            return (GC.GetAllocatedBytesForCurrentThread() - before, e);
        }
    }
}
