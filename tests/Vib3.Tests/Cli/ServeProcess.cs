using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace Vib3.Tests.Cli;

/// <summary>A real `vib3 serve` process (dotnet vib3.dll serve ...), with no secrets inherited from the test's
/// environment; killed when disposed. Its stdout lines are collected as they come.</summary>
public sealed class ServeProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly Task<string> _stderr;

    public ServeProcess(string dataDir, IReadOnlyDictionary<string, string>? environment, params string[] args)
        : this(dataDir, environment, ["dotnet"], args) { }

    private ServeProcess(string dataDir, IReadOnlyDictionary<string, string>? environment, string[] launcher, string[] args)
    {
        var vib3 = typeof(Vib3.Cli.Vib3Cli).Assembly.Location;
        var start = new ProcessStartInfo(launcher[0], [.. launcher[1..], vib3, "serve", .. args, "--data-dir", dataDir])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var v in new[] { "VIB3_PG_PASSWORD", "VIB3_API_KEY", "VIB3_DATA_DIR" }) start.Environment.Remove(v);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) start.Environment[k] = v;
        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_stdout) _stdout.AppendLine(e.Data); };
        _process.BeginOutputReadLine();
        _stderr = _process.StandardError.ReadToEndAsync();
    }

    /// <summary>A serve process that receives SIGINT even when this test run was started with it ignored (a shell's
    /// background job ignores SIGINT, and children inherit that): `env --default-signal=INT` restores it, then
    /// execs dotnet, so the process id is still the server's.</summary>
    public static ServeProcess WithDefaultSignals(string dataDir, params string[] args) =>
        new(dataDir, null, ["env", "--default-signal=INT", "dotnet"], args);

    public int Id => _process.Id;

    /// <summary>Sends a POSIX signal (2 SIGINT, 15 SIGTERM) to the server process.</summary>
    public void Signal(int signal)
    {
        if (Kill(_process.Id, signal) != 0) throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    /// <summary>Waits for the process to exit on its own; its exit code and stderr.</summary>
    public async Task<(int ExitCode, string Error)> ExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return (_process.ExitCode, await _stderr);
    }

    /// <summary>Waits until stdout has a line containing <paramref name="text"/>; that line. Fails if the process exits first.</summary>
    public async Task<string> LineAsync(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            lock (_stdout)
                if (_stdout.ToString().Split('\n').FirstOrDefault(l => l.Contains(text, StringComparison.Ordinal)) is { } line)
                    return line.TrimEnd('\r');
            if (_process.HasExited)
                throw new Xunit.Sdk.XunitException($"vib3 serve exited ({_process.ExitCode}) before printing '{text}': {await _stderr}");
            await Task.Delay(50);
        }
        throw new TimeoutException($"vib3 serve printed no '{text}' in {timeout}");
    }

    /// <summary>Stops it and returns what it wrote on stderr.</summary>
    public async Task<string> StopAsync()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        return await _stderr;
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }
}
