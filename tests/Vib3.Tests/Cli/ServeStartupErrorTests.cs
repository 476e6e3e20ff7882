using System.Net;
using System.Net.Sockets;

namespace Vib3.Tests.Cli;

/// <summary>`vib3 serve` that cannot start says why in one stderr line, never a stack trace: exit 2 for a command
/// line that cannot work (a port out of range, an address that is not one), 1 for a machine that does not let it
/// (a port in use, a data directory it cannot write). Before, a busy Postgres port or port 99999 was
/// "internal error ... [SQLSTATE XX000]" and a stack trace (exit 70).</summary>
public sealed class ServeStartupErrorTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData("--pg-port", "Postgres")]
    [InlineData("--http-port", "HTTP")]
    public async Task A_busy_port_is_one_line_and_exit_1(string option, string server)
    {
        using var dir = new TempDir();
        var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        try
        {
            var port = ((IPEndPoint)taken.LocalEndpoint).Port;
            using var serve = new ServeProcess(dir.Sub("data"), null, option, port.ToString());
            var (code, error) = await serve.ExitAsync(Timeout);
            Assert.Equal(1, code);
            Assert.Equal($"vib3: error: cannot listen for {server} on 127.0.0.1 port {port}: Address already in use [SQLSTATE 58030]\n", error);
        }
        finally { taken.Stop(); }
    }

    [Theory]
    [InlineData("--pg-port 99999", "vib3: error: --pg-port 99999 is out of range (0 to 65535; 0 picks a free port) [SQLSTATE 22023]")]
    [InlineData("--http-port -1", "vib3: error: --http-port -1 is out of range (0 to 65535; 0 picks a free port) [SQLSTATE 22023]")]
    [InlineData("--listen 999.1.1.1 --pg-port 0", "vib3: error: --listen '999.1.1.1' is not an IP address or a host name that resolves")]
    [InlineData("--listen no-such-host.invalid --pg-port 0", "vib3: error: --listen 'no-such-host.invalid' is not an IP address or a host name that resolves")]
    [InlineData("--shutdown-timeout -3", "vib3: error: --shutdown-timeout -3 is negative [SQLSTATE 22023]")]
    public void A_command_line_that_cannot_work_is_one_line_and_exit_2(string args, string line)
    {
        using var dir = new TempDir();
        var r = CliRun.Run(dir.Sub("data"), ["serve", .. args.Split(' ')]);
        Assert.Equal(Vib3.Cli.Vib3Cli.ExitUsage, r.ExitCode);
        Assert.StartsWith(line, r.Error);
        Assert.EndsWith("[SQLSTATE 22023]\n", r.Error.ReplaceLineEndings("\n"));
        Assert.Single(r.Error.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public async Task A_data_directory_that_cannot_be_written_is_one_line_and_exit_1()
    {
        using var dir = new TempDir();
        var file = dir.Sub("a-file");
        await File.WriteAllTextAsync(file, "not a directory");
        using var serve = new ServeProcess(Path.Combine(file, "data"), null, "--pg-port", "0");
        var (code, error) = await serve.ExitAsync(Timeout);
        Assert.Equal(1, code);
        Assert.StartsWith($"vib3: error: data directory {Path.Combine(file, "data")} is not writable: ", error);
        Assert.EndsWith("[SQLSTATE 58030]\n", error);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public async Task Listen_localhost_serves_on_loopback_and_stops_on_sigterm()
    {
        using var dir = new TempDir();
        using var serve = new ServeProcess(dir.Sub("data"), null, "--listen", "localhost", "--http-port", "0");
        var line = await serve.LineAsync("OpenAI-compatible API on http://localhost:", Timeout);
        var port = new Uri(line[line.IndexOf("http://", StringComparison.Ordinal)..].Split(' ')[0]).Port;
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var health = await http.GetAsync($"http://127.0.0.1:{port}/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        serve.Signal(15);
        var (code, error) = await serve.ExitAsync(TimeSpan.FromSeconds(10));
        Assert.True(code == 0, $"exit {code}: {error}");
    }
}
