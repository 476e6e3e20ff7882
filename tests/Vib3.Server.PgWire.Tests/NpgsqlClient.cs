using Npgsql;

namespace Vib3.Server.PgWire.Tests;

/// <summary>How the tests connect with Npgsql: no pg_catalog type loading (vib3 serves only what drivers need), no
/// pooling (each test sees its own connection come and go), bounded connect and command waits.</summary>
public static class NpgsqlClient
{
    public static string ConnectionString(int port, string user = "test", string? password = null) =>
        $"Host=127.0.0.1;Port={port};Username={user};{(password is null ? "" : $"Password={password};")}Database=vib3;" +
        "Server Compatibility Mode=NoTypeLoading;Pooling=false;Timeout=10;Command Timeout=60";

    /// <summary>An open connection as "test" to a trusting server on <paramref name="port"/>.</summary>
    public static async Task<NpgsqlConnection> OpenAsync(int port)
    {
        var c = new NpgsqlConnection(ConnectionString(port));
        await c.OpenAsync();
        return c;
    }
}
