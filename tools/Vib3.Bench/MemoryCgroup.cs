using System.Diagnostics;
using System.Globalization;

namespace Vib3.Bench;

/// <summary>A fresh cgroup v1 memory group (root only) that one child process runs in, so two engines can be held to
/// the same limit and their peaks compared. Page cache the child faults in is charged to the group too, which is
/// what makes a limit bind an mmap engine (llama.cpp) as it binds vib3's own cache. Removed on dispose.</summary>
internal sealed class MemoryCgroup : IDisposable
{
    private const string Root = "/sys/fs/cgroup/memory";
    private readonly string _dir;

    /// <param name="limitBytes">memory.limit_in_bytes; null leaves the group unlimited (to measure a peak only).</param>
    public MemoryCgroup(string name, long? limitBytes)
    {
        _dir = Path.Combine(Root, name);
        if (Directory.Exists(_dir)) Directory.Delete(_dir);
        Directory.CreateDirectory(_dir);
        if (limitBytes is { } limit) Write("memory.limit_in_bytes", limit.ToString(CultureInfo.InvariantCulture));
    }

    public static bool Available => Directory.Exists(Root);

    /// <summary>The group's high-water mark: anonymous memory plus charged page cache.</summary>
    public long PeakBytes => long.Parse(File.ReadAllText(Path.Combine(_dir, "memory.max_usage_in_bytes")).Trim(), CultureInfo.InvariantCulture);

    /// <summary>Runs <paramref name="exe"/> inside the group and waits for it (killed after <paramref name="timeout"/>).
    /// A shell joins the group and then execs the engine, so every page it touches from its first instruction on
    /// (runtime start-up included) is charged here; cgroup v1 would not move charges made before a later move.</summary>
    public ChildRun Run(string exe, IEnumerable<string> args, TimeSpan timeout)
    {
        long anonPeak = 0;
        var gate = new object();
        // cgroup v1 keeps no high-water mark of anonymous memory alone: sampled, so a run can say how much of its
        // peak was memory the limit cannot evict (an mmap engine's weights are page cache; a copy of them is not).
        using var sampler = new Timer(_ =>
        {
            var now = AnonBytes();
            lock (gate) anonPeak = Math.Max(anonPeak, now);
        }, null, 0, AnonSampleMilliseconds);
        var psi = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-c", "echo $$ > \"$0\" && exec \"$@\"", Path.Combine(_dir, "cgroup.procs"), exe }.Concat(args))
            psi.ArgumentList.Add(a);
        using var child = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {exe}");
        var stdout = child.StandardOutput.ReadToEndAsync();
        var stderr = child.StandardError.ReadToEndAsync();
        var timedOut = !child.WaitForExit(timeout);
        if (timedOut) child.Kill(entireProcessTree: true);
        child.WaitForExit();
        sampler.Dispose();
        lock (gate) return new ChildRun(timedOut ? -1 : child.ExitCode, timedOut, stdout.Result, stderr.Result, PeakBytes, anonPeak);
    }

    private const int AnonSampleMilliseconds = 20;

    /// <summary>The group's anonymous memory now (memory.stat "rss"; 0 once the group is gone).</summary>
    private long AnonBytes()
    {
        try
        {
            foreach (var line in File.ReadLines(Path.Combine(_dir, "memory.stat")))
                if (line.StartsWith("rss ", StringComparison.Ordinal)) return long.Parse(line.AsSpan(4), CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
        }
        return 0;
    }

    private void Write(string file, string value) => File.WriteAllText(Path.Combine(_dir, file), value);

    // rmdir succeeds once the group's tasks have exited; the charges left (page cache) move to the parent.
    public void Dispose() => Directory.Delete(_dir);
}

/// <summary>What a child run left: exit code (-1 on timeout), its output, the group's peak memory and the peak of its
/// anonymous part (sampled every 20 ms).</summary>
internal sealed record ChildRun(int ExitCode, bool TimedOut, string Stdout, string Stderr, long PeakBytes, long PeakAnonBytes)
{
    public bool Ok => ExitCode == 0;

    /// <summary>Why a failed run failed, in a few words for the table's notes (137: killed, usually the OOM killer).</summary>
    public string Failure => TimedOut ? "timed out" : ExitCode == 137 ? "killed (OOM)" : $"exit {ExitCode}";
}
