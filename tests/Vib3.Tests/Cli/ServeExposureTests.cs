using System.Net;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;

namespace Vib3.Tests.Cli;

/// <summary>Trust only on loopback, with real `vib3 serve` processes: listening on 0.0.0.0 asks for a password / API
/// key or an explicit --insecure-no-auth. Clients in these tests connect to 127.0.0.1 only.</summary>
public sealed class ServeExposureTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData("--pg-port", "Postgres", "a password (--pg-password-file or VIB3_PG_PASSWORD)")]
    [InlineData("--http-port", "HTTP", "an API key (--api-key-file or VIB3_API_KEY)")]
    public async Task Listening_on_every_address_without_a_secret_is_refused_with_one_line_and_exit_2(string port, string server, string secret)
    {
        using var dir = new TempDir();
        // The port is taken: a server that tried to bind before checking would fail with "address in use" instead.
        var taken = new System.Net.Sockets.TcpListener(IPAddress.Any, 0);
        taken.Start();
        try
        {
            var busy = ((IPEndPoint)taken.LocalEndpoint).Port.ToString();
            using var serve = new ServeProcess(dir.Sub("data"), null, "--listen", "0.0.0.0", port, busy);
            var (code, error) = await serve.ExitAsync(Timeout);
            Assert.Equal(2, code);
            Assert.Equal(
                $"vib3: error: refusing to serve {server} on 0.0.0.0 without {secret}: other machines could connect with no login (pass --insecure-no-auth to allow it anyway) [SQLSTATE 28000]\n",
                error);
        }
        finally { taken.Stop(); }
    }

    [Fact]
    public async Task Insecure_no_auth_starts_on_every_address_with_a_warning()
    {
        using var dir = new TempDir();
        using var serve = new ServeProcess(dir.Sub("data"), null, "--listen", "0.0.0.0", "--pg-port", "0", "--insecure-no-auth");
        var line = await serve.LineAsync("Postgres wire protocol on 0.0.0.0:", Timeout);
        var port = int.Parse(Regex.Match(line, @"0\.0\.0\.0:(\d+)").Groups[1].Value);
        using (var client = new System.Net.Sockets.TcpClient())
            await client.ConnectAsync(IPAddress.Loopback, port); // it listens (reached over loopback only)
        var error = await serve.StopAsync();
        Assert.Equal(
            "vib3: warning: Postgres on 0.0.0.0 asks for no login (--insecure-no-auth): anyone who can reach it may use it",
            error.Split('\n')[0]);
    }

    [Fact]
    public async Task Secrets_from_files_let_it_listen_on_every_address_and_the_key_is_the_files_first_line()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.Sub("pg"), "pg secret\n");
        File.WriteAllText(dir.Sub("key"), "k3y-from-file\n");
        using var serve = new ServeProcess(dir.Sub("data"), null, "--listen", "0.0.0.0", "--pg-port", "0", "--http-port", "0",
            "--pg-password-file", dir.Sub("pg"), "--api-key-file", dir.Sub("key"));
        var line = await serve.LineAsync("OpenAI-compatible API on http://0.0.0.0:", Timeout);
        var port = int.Parse(Regex.Match(line, @"0\.0\.0\.0:(\d+)").Groups[1].Value);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = Timeout };
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/v1/models")).StatusCode);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "k3y-from-file");
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(request)).StatusCode);
        Assert.Equal("", await serve.StopAsync()); // no warning: both servers ask for a secret
    }

    [Fact]
    public async Task The_environment_password_counts_too()
    {
        using var dir = new TempDir();
        using var serve = new ServeProcess(dir.Sub("data"), new Dictionary<string, string> { ["VIB3_PG_PASSWORD"] = "from env" },
            "--listen", "0.0.0.0", "--pg-port", "0");
        await serve.LineAsync("Postgres wire protocol on 0.0.0.0:", Timeout);
        Assert.Equal("", await serve.StopAsync());
    }

    [Fact]
    public async Task An_empty_password_file_is_refused()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.Sub("pg"), "\n");
        using var serve = new ServeProcess(dir.Sub("data"), null, "--pg-port", "0", "--pg-password-file", dir.Sub("pg"));
        var (code, error) = await serve.ExitAsync(Timeout);
        Assert.Equal(1, code);
        Assert.Equal("vib3: error: the secret given by --pg-password-file is empty [SQLSTATE 22023]\n", error);
    }
}
