using System.Net;
using Npgsql;

namespace Vib3.Server.PgWire.Tests;

/// <summary>A server told to listen on another address answers there (127.0.0.2 is loopback too on Linux).</summary>
public sealed class OtherAddressFixture : PgServerFixture
{
    protected override PgServerOptions Configure(PgServerOptions options) => options with { ListenAddress = IPAddress.Parse("127.0.0.2") };
}

public sealed class ListenAddressTests(OtherAddressFixture server) : IClassFixture<OtherAddressFixture>
{
    [Fact]
    public async Task Clients_reach_the_server_on_the_listen_address()
    {
        await using var connection = new NpgsqlConnection(
            $"Host=127.0.0.2;Port={server.Port};Username=test;Database=vib3;Server Compatibility Mode=NoTypeLoading;Pooling=false;Timeout=10");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT name FROM vib3_models", connection);
        Assert.Equal("m", await command.ExecuteScalarAsync());
    }
}
