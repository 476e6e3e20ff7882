using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace Vib3.Tests.Cli;

/// <summary>Real `vib3 serve` processes stop on SIGINT / SIGTERM in every mode: exit 0 within seconds with the
/// ports free again, and a second SIGINT exits at once with 130. (Before, a serve with an HTTP port ignored both
/// signals: the web host's console lifetime took them and only kill -9 ended the process.)</summary>
public sealed class ServeShutdownTests
{
    private const int SigInt = 2;
    private const int SigTerm = 15;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);

    [Theory]
    [InlineData(SigTerm, "--pg-port", "0")]
    [InlineData(SigTerm, "--http-port", "0")]
    [InlineData(SigTerm, "--pg-port", "0", "--http-port", "0")]
    [InlineData(SigInt, "--pg-port", "0", "--http-port", "0")]
    [InlineData(SigInt, "--http-port", "0")]
    public async Task A_signal_stops_the_server_with_exit_0_and_frees_its_ports(int signal, params string[] ports)
    {
        using var dir = new TempDir();
        using var serve = ServeProcess.WithDefaultSignals(dir.Sub("data"), ports);
        await serve.LineAsync("Ctrl-C stops", StartTimeout);
        var listening = await ListeningPorts(serve, ports);
        Assert.All(listening, p => Assert.True(Answers(p), $"port {p} does not answer while serving"));

        serve.Signal(signal);
        var (code, error) = await serve.ExitAsync(StopTimeout);

        Assert.True(code == 0, $"exit {code}: {error}");
        Assert.Equal("", error);
        await serve.LineAsync("vib3: stopped", TimeSpan.FromSeconds(1));
        Assert.All(listening, p => Assert.False(Answers(p), $"port {p} still answers after the server stopped"));
        Assert.All(listening, p => BindsAgain(p));
    }

    [Fact]
    public async Task A_second_signal_exits_at_once_with_128_plus_its_number()
    {
        using var dir = new TempDir();
        using var serve = ServeProcess.WithDefaultSignals(dir.Sub("data"), "--http-port", "0", "--pg-port", "0");
        await serve.LineAsync("Ctrl-C stops", StartTimeout);

        // Two different signals: the kernel merges a second SIGINT still pending with the first (standard signals do
        // not queue), so two Ctrl-Cs sent back to back could arrive as one and the server would just stop (exit 0);
        // SIGINT and SIGTERM always arrive as two.
        serve.Signal(SigInt);
        serve.Signal(SigTerm);
        var (code, error) = await serve.ExitAsync(StopTimeout);

        // Which of the two the runtime hands over first is its choice: the other one ends the process.
        Assert.True(code is 128 + SigInt or 128 + SigTerm, $"exit {code}: {error}");
        await serve.LineAsync($"{(code == 128 + SigInt ? "SIGINT" : "SIGTERM")} while stopping: exiting now", TimeSpan.FromSeconds(1));
    }

    private static async Task<int[]> ListeningPorts(ServeProcess serve, string[] ports)
    {
        var found = new List<int>();
        if (ports.Contains("--pg-port"))
            found.Add(int.Parse(Regex.Match(await serve.LineAsync("Postgres wire protocol on", StartTimeout), @"127\.0\.0\.1:(\d+) ").Groups[1].Value));
        if (ports.Contains("--http-port"))
            found.Add(int.Parse(Regex.Match(await serve.LineAsync("OpenAI-compatible API on", StartTimeout), @"127\.0\.0\.1:(\d+)/").Groups[1].Value));
        return [.. found];
    }

    private static bool Answers(int port)
    {
        using var client = new TcpClient();
        try { client.Connect(IPAddress.Loopback, port); return true; }
        catch (SocketException) { return false; }
    }

    private static void BindsAgain(int port)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start();
        listener.Stop();
    }
}
