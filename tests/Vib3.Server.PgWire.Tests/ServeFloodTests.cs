using System.Diagnostics;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace Vib3.Server.PgWire.Tests;

/// <summary>A real `vib3 serve` process under a small open-files limit, flooded with more silent connections than it
/// has file descriptors. Without a connection cap accept ran out of descriptors (EMFILE), was retried at once (a
/// core at 100 %) and the runtime, short of descriptors itself, died ("Out of memory", exit 134). It must live, stay
/// nearly idle, and answer psql once the flood is gone.</summary>
public sealed partial class ServeFloodTests
{
    /// <summary>About 90 descriptors are the runtime's own: this leaves room for 10 connections, not for the flood.</summary>
    private const int FileLimit = 256;
    private const int Flood = 300;

    private static Process StartServe(int fileLimit, string dataDir, params string[] options)
    {
        var vib3 = typeof(Vib3.Cli.Vib3Cli).Assembly.Location;
        var start = new ProcessStartInfo("prlimit",
            [$"--nofile={fileLimit}:{fileLimit}", "--", "dotnet", vib3, "serve", "--pg-port", "0", "--data-dir", dataDir, .. options])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        return Process.Start(start)!; // prlimit execs dotnet: the same process
    }

    [Fact]
    public async Task Serve_refuses_to_start_when_max_connections_could_use_up_its_open_files()
    {
        var dir = Directory.CreateTempSubdirectory("vib3-nofile-").FullName;
        try
        {
            using var process = StartServe(200, dir); // --max-connections 100 by default
            var error = await process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await process.WaitForExitAsync(timeout.Token);
            Assert.NotEqual(0, process.ExitCode);
            Assert.Contains("vib3: error: 100 connections need up to ", error);
            Assert.Contains("this process may open 200: raise the limit (ulimit -n) or lower --max-connections [SQLSTATE 53000]", error);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_flood_of_more_connections_than_file_descriptors_neither_kills_nor_spins_vib3_serve()
    {
        var dir = Directory.CreateTempSubdirectory("vib3-flood-").FullName;
        using var process = StartServe(FileLimit, dir, "--max-connections", "10");
        var errors = new System.Text.StringBuilder();
        process.ErrorDataReceived += (_, e) => { lock (errors) errors.AppendLine(e.Data); };
        process.BeginErrorReadLine();
        string Errors() { lock (errors) return errors.ToString(); }
        var flood = new List<TcpClient>();
        try
        {
            var port = await PortAsync(process, Errors);
            for (var i = 0; i < Flood; i++)
            {
                var c = new TcpClient();
                flood.Add(c);
                try { await c.ConnectAsync("127.0.0.1", port); } // the kernel's backlog takes them: accept is the server's problem
                catch (SocketException e)
                {
                    await Task.Delay(200);
                    throw new InvalidOperationException(
                        $"connection {i} failed ({e.SocketErrorCode}); vib3 serve {(process.HasExited ? $"exited {process.ExitCode}" : "runs")}: {Errors()}");
                }
            }
            await Task.Delay(500); // by now accept has run out of descriptors
            Assert.False(process.HasExited, $"vib3 serve died under the flood: {Errors()}");
            var before = CpuTicks(process.Id);
            await Task.Delay(TimeSpan.FromSeconds(2));
            var used = CpuTicks(process.Id) - before;
            Assert.False(process.HasExited, $"vib3 serve died under the flood: {Errors()}");
            Assert.True(used < 40, $"vib3 serve used {used} CPU ticks (of 200 a busy core gives) in 2 s while flooded");

            foreach (var c in flood) c.Dispose();
            flood.Clear();
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
            PsqlResult r;
            while ((r = await Psql.RunAsync(port, "-A", "-t", "-c", "SHOW MODELS")).ExitCode != 0 && DateTime.UtcNow < deadline)
                await Task.Delay(100);
            Assert.True(r.ExitCode == 0, r.Error);
            Assert.False(process.HasExited);
        }
        finally
        {
            foreach (var c in flood) c.Dispose();
            if (!process.HasExited) process.Kill();
            await process.WaitForExitAsync();
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The port from serve's "Postgres wire protocol on 127.0.0.1:PORT" line.</summary>
    private static async Task<int> PortAsync(Process process, Func<string> errors)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            if (PortLine().Match(line) is { Success: true } m) return int.Parse(m.Groups[1].Value);
        throw new InvalidOperationException($"vib3 serve printed no port: {errors()}");
    }

    /// <summary>User plus system time of a process, in clock ticks (100 a second), from /proc/PID/stat.</summary>
    private static long CpuTicks(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' '); // fields from the 3rd (state) on
        return long.Parse(fields[11]) + long.Parse(fields[12]); // utime and stime, the 14th and 15th
    }

    [GeneratedRegex(@"Postgres wire protocol on [^ ]+:(\d+)")]
    private static partial Regex PortLine();
}
