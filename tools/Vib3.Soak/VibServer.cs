using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Vib3.Soak;

/// <summary>A `vib3 serve --pg-port P --http-port H` process on 127.0.0.1 over the soak's data directory, with the
/// probes every case is judged by: is it alive, does /health answer, does psql's SELECT 1 work, how much RSS.</summary>
internal sealed class VibServer : IAsyncDisposable
{
    public const string User = "soak";
    private readonly Process _process;
    private readonly Task<string> _stdout;
    private readonly Task<string> _stderr;
    private readonly HttpClient _http;

    private VibServer(Process process, int pgPort, int httpPort, string? password, Task<string> stdout, Task<string> stderr)
    {
        _process = process;
        PgPort = pgPort;
        HttpPort = httpPort;
        Password = password;
        _stdout = stdout;
        _stderr = stderr;
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}/"), Timeout = Timeout.InfiniteTimeSpan };
    }

    public int PgPort { get; }
    public int HttpPort { get; }
    public string? Password { get; }
    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;
    public Process Process => _process;
    public long? RssBytes => ProcessMemory.RssBytes(_process.Id);

    /// <summary>Starts the server and waits until both listeners are up (or the start deadline passes).</summary>
    /// <param name="options">More `vib3 serve` options (limits, shutdown timeout).</param>
    public static async Task<VibServer> StartAsync(VibCli cli, string? password, params string[] options)
    {
        var (pg, http) = (FreePort(), FreePort());
        var env = password is null ? null : new Dictionary<string, string> { ["VIB3_PG_PASSWORD"] = password };
        var process = ChildProcess.Start("dotnet", cli.Args(["serve", "--pg-port", $"{pg}", "--http-port", $"{http}", "--listen", "127.0.0.1", .. options]), env);
        var ready = new TaskCompletionSource();
        var stdout = ReadUntilReadyAsync(process.StandardOutput, ready);
        var server = new VibServer(process, pg, http, password, stdout, ChildProcess.Tail(process.StandardError));
        var clock = Stopwatch.StartNew();
        await Task.WhenAny(ready.Task, process.WaitForExitAsync(), Task.Delay(Limits.StartDeadline));
        if (!ready.Task.IsCompleted)
        {
            var why = process.HasExited ? $"exited with {process.ExitCode}" : $"did not listen within {Limits.StartDeadline.TotalSeconds:0} s";
            await server.DisposeAsync();
            throw new InvalidOperationException($"vib3 serve {why}: {Text.Clip(await server._stderr + await server._stdout, 400)}");
        }
        while (!await server.HealthyAsync() && clock.Elapsed < Limits.StartDeadline) await Task.Delay(200);
        return server;
    }

    private static async Task<string> ReadUntilReadyAsync(StreamReader reader, TaskCompletionSource ready)
    {
        var tail = new Queue<string>();
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.Contains("Ctrl-C stops", StringComparison.Ordinal)) ready.TrySetResult();
            tail.Enqueue(line);
            if (tail.Count > 50) tail.Dequeue();
        }
        return string.Join('\n', tail);
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public async Task<bool> HealthyAsync()
    {
        if (HasExited) return false;
        try
        {
            using var cts = new CancellationTokenSource(Limits.ProbeDeadline);
            using var response = await _http.GetAsync("health", cts.Token);
            return response.StatusCode == HttpStatusCode.OK;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { return false; }
    }

    /// <summary>psql running one statement against this server, under a deadline. Verbose errors carry the SQLSTATE
    /// ("ERROR:  XX000: …"), which tells an internal error from a clean refusal.</summary>
    public Task<ChildResult> PsqlAsync(string sql, TimeSpan deadline)
    {
        var env = new Dictionary<string, string> { ["PGCONNECT_TIMEOUT"] = "5" };
        if (Password is not null) env["PGPASSWORD"] = Password;
        return ChildProcess.RunAsync("psql",
            ["-X", "-A", "-t", "-h", "127.0.0.1", "-p", $"{PgPort}", "-U", User, "-d", "vib3", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose", "-c", sql],
            deadline, env);
    }

    public async Task<bool> SelectOneAsync()
    {
        if (HasExited) return false;
        var r = await PsqlAsync("SELECT 1", Limits.ProbeDeadline);
        return r.ExitCode == 0 && r.Stdout.Trim() == "1";
    }

    /// <summary>Posts with <c>Expect: 100-continue</c>, so a body the server refuses by its Content-Length (413) is
    /// answered before it is uploaded rather than cut off mid-upload.</summary>
    public async Task<HttpResponseMessage> PostAsync(string path, HttpContent content, TimeSpan deadline)
    {
        using var cts = new CancellationTokenSource(deadline);
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
        request.Headers.ExpectContinue = true;
        return await _http.SendAsync(request, cts.Token);
    }

    /// <summary>Sends <paramref name="signal"/> (<see cref="Posix"/>) to the server.</summary>
    public void Signal(int signal) => Posix.Signal(_process.Id, signal);

    /// <summary>Npgsql's connection string for this server: no pg_catalog type loading (vib3 serves only what drivers
    /// need), no pooling (each client holds its own connection), bounded connect (<see cref="Limits.ConnectDeadline"/>)
    /// and command waits.</summary>
    public string NpgsqlConnectionString(TimeSpan commandTimeout) =>
        $"Host=127.0.0.1;Port={PgPort};Username={User};{(Password is null ? "" : $"Password={Password};")}Database=vib3;" +
        $"Server Compatibility Mode=NoTypeLoading;Pooling=false;Timeout={(int)Limits.ConnectDeadline.TotalSeconds};Command Timeout={(int)commandTimeout.TotalSeconds}";

    /// <summary>What the server printed last (for a crash report).</summary>
    public async Task<string> OutputAsync() =>
        _process.HasExited ? (await _stderr + "\n" + await _stdout).Trim() : "";

    public async ValueTask DisposeAsync()
    {
        ChildProcess.Kill(_process);
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { });
        _http.Dispose();
        _process.Dispose();
    }
}
