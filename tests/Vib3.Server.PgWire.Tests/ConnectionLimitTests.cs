using System.Diagnostics;

namespace Vib3.Server.PgWire.Tests;

/// <summary>A server that takes three connections at once and gives a client 2 s to send its startup packet.</summary>
public sealed class ThreeConnectionsServerFixture : PgServerFixture
{
    public const int MaxConnections = 3;
    public static readonly TimeSpan StartupTimeout = TimeSpan.FromSeconds(2);

    protected override PgServerOptions Configure(PgServerOptions options) =>
        options with { MaxConnections = MaxConnections, StartupTimeout = StartupTimeout };
}

/// <summary>--max-connections and the startup timeout: a flood of connections cannot take more than the cap.</summary>
public sealed class ConnectionLimitTests(ThreeConnectionsServerFixture server) : IClassFixture<ThreeConnectionsServerFixture>
{
    [Fact]
    public async Task A_connection_beyond_max_connections_gets_53300_and_one_that_closes_makes_room()
    {
        var held = new List<System.Net.Sockets.TcpClient>();
        try
        {
            for (var i = 0; i < ThreeConnectionsServerFixture.MaxConnections; i++) held.Add(await RawPg.LoginAsync(server.Port));

            using (var extra = await RawPg.ConnectAsync(server.Port)) // refused at accept: it need not send anything
            {
                var (severity, state, message) = await RawPg.FatalAsync(extra.GetStream());
                Assert.Equal(("FATAL", "53300", "sorry, too many clients already"), (severity, state, message));
            }
            var psql = await Psql.RunAsync(server.Port, "-c", "SHOW MODELS");
            Assert.Equal(2, psql.ExitCode);
            Assert.Contains("sorry, too many clients already", psql.Error);

            held[0].Dispose();
            held.RemoveAt(0);
            await AssertPsqlServedAsync();
        }
        finally
        {
            foreach (var c in held) c.Dispose();
        }
    }

    [Fact]
    public async Task Connections_that_never_send_a_startup_packet_are_closed_after_the_startup_timeout()
    {
        var silent = new List<System.Net.Sockets.TcpClient>();
        try
        {
            for (var i = 0; i < ThreeConnectionsServerFixture.MaxConnections; i++) silent.Add(await RawPg.ConnectAsync(server.Port));
            var opened = Stopwatch.StartNew();
            foreach (var c in silent) Assert.Empty(await RawPg.ReadToCloseAsync(c.GetStream())); // closed, no reply
            Assert.InRange(opened.Elapsed, ThreeConnectionsServerFixture.StartupTimeout * 0.5, ThreeConnectionsServerFixture.StartupTimeout * 3);
        }
        finally
        {
            foreach (var c in silent) c.Dispose();
        }
        await AssertPsqlServedAsync();
    }

    /// <summary>psql connects and runs a statement; a closed connection's slot may take a moment to come back.</summary>
    private async Task AssertPsqlServedAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        PsqlResult r;
        while ((r = await Psql.RunAsync(server.Port, "-A", "-t", "-c", "SELECT name FROM vib3_models")).ExitCode != 0
               && DateTime.UtcNow < deadline)
            await Task.Delay(50);
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Equal("m", r.Output.Trim());
    }
}
