using System.Diagnostics;
using System.Text;

namespace Vib3.Soak;

/// <summary>How a child process ended.</summary>
/// <param name="ExitCode">Null when the soak killed it (deadline or memory cap).</param>
internal sealed record ChildResult(int? ExitCode, bool TimedOut, bool OverMemory, long PeakRssBytes, string Stdout, string Stderr, TimeSpan Elapsed)
{
    /// <summary>Ended by a signal (the runtime reports 128 + signal; a stack overflow aborts: 134).</summary>
    public bool Crashed => ExitCode is >= 128;

    /// <summary>An unhandled .NET exception printed its stack.</summary>
    public bool StackTrace => Stderr.Contains("\n   at ", StringComparison.Ordinal) || Stdout.Contains("\n   at ", StringComparison.Ordinal);

    public string FirstErrorLine => Text.Clip((Stderr.Trim().Length > 0 ? Stderr : Stdout).Trim().Split('\n')[0].Trim());
}

/// <summary>Runs a process to completion under a deadline and a memory cap, keeping the tail of its output.
/// The soak must never hang itself: whatever the child does, this returns by the deadline.</summary>
internal static class ChildProcess
{
    private const int HeadChars = 4 << 10;
    private const int KeptChars = 16 << 10;

    public static async Task<ChildResult> RunAsync(string file, IEnumerable<string> args, TimeSpan deadline,
        IReadOnlyDictionary<string, string>? env = null, string? stdin = null)
    {
        using var process = Start(file, args, env, redirectStdin: stdin is not null);
        var clock = Stopwatch.StartNew();
        var stdout = Tail(process.StandardOutput);
        var stderr = Tail(process.StandardError);
        if (stdin is not null)
        {
            try { await process.StandardInput.WriteAsync(stdin); process.StandardInput.Close(); }
            catch (IOException) { /* it exited before reading: its exit says why */ }
        }
        var (timedOut, overMemory, peak) = await WatchAsync(process, deadline);
        if (timedOut || overMemory) Kill(process);
        await process.WaitForExitAsync();
        return new ChildResult(timedOut || overMemory ? null : process.ExitCode, timedOut, overMemory, peak,
            await stdout, await stderr, clock.Elapsed);
    }

    public static Process Start(string file, IEnumerable<string> args, IReadOnlyDictionary<string, string>? env = null, bool redirectStdin = false)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = redirectStdin, UseShellExecute = false,
        };
        foreach (var a in args) info.ArgumentList.Add(a);
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) info.Environment[k] = v;
        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {file}");
        lock (Started) Started.Add(process);
        return process;
    }

    /// <summary>Every process the soak started, so that stopping the soak (Ctrl-C, SIGTERM) stops them too.</summary>
    private static readonly List<Process> Started = [];

    /// <summary>Kills every child still running (only processes this soak started).</summary>
    public static void KillAll()
    {
        lock (Started)
            foreach (var p in Started)
                try { if (!p.HasExited) p.Kill(entireProcessTree: true); }
                catch (InvalidOperationException) { /* exited or disposed meanwhile */ }
    }

    /// <summary>Samples the child's RSS until it exits, the deadline passes or it crosses the memory cap.</summary>
    public static async Task<(bool TimedOut, bool OverMemory, long PeakRss)> WatchAsync(Process process, TimeSpan deadline)
    {
        var clock = Stopwatch.StartNew();
        long peak = 0;
        while (!process.HasExited)
        {
            var rss = ProcessMemory.RssBytes(process.Id) ?? 0;
            peak = Math.Max(peak, rss);
            if (rss > Limits.MemoryCapBytes) return (false, true, peak);
            if (clock.Elapsed > deadline) return (true, false, peak);
            try { await process.WaitForExitAsync().WaitAsync(Limits.SampleEvery); }
            catch (TimeoutException) { }
        }
        return (false, false, peak);
    }

    public static void Kill(Process process)
    {
        try { process.Kill(entireProcessTree: true); }
        catch (InvalidOperationException) { /* already gone */ }
    }

    /// <summary>Reads a stream to its end, keeping its first <see cref="HeadChars"/> characters (where a runtime
    /// names a fatal error, "Stack overflow.") and its last <see cref="KeptChars"/>, joined by "…".</summary>
    public static async Task<string> Tail(StreamReader reader)
    {
        var head = new StringBuilder();
        var tail = new StringBuilder();
        var buffer = new char[4096];
        int n;
        while ((n = await reader.ReadAsync(buffer)) > 0)
        {
            var chunk = buffer.AsSpan(0, n);
            var toHead = Math.Min(HeadChars - head.Length, n);
            head.Append(chunk[..toHead]);
            tail.Append(chunk[toHead..]);
            if (tail.Length > 2 * KeptChars) tail.Remove(0, tail.Length - KeptChars);
        }
        var kept = tail.Length > KeptChars ? tail.ToString(tail.Length - KeptChars, KeptChars) : tail.ToString();
        return tail.Length > KeptChars ? head + "\n…\n" + kept : head + kept;
    }
}
