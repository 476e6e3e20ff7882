namespace Vib3.Server.PgWire;

/// <summary>Where and how the Postgres wire server listens.</summary>
public sealed record PgServerOptions
{
    /// <summary>TCP port on 127.0.0.1; 0 picks a free one (see <see cref="PgServer.Port"/>).</summary>
    public int Port { get; init; } = 5432;

    /// <summary>Address to listen on; null: 127.0.0.1 (only this machine can connect).</summary>
    public System.Net.IPAddress? ListenAddress { get; init; }

    /// <summary>How long a new connection may take to send its startup packet before it is dropped.</summary>
    public TimeSpan StartupTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Reported to clients as the server_version parameter (plain numeric: Npgsql parses it as a Version).</summary>
    public string ServerVersion { get; init; } = "16.0";

    /// <summary>The password every user must give (SCRAM-SHA-256); null trusts every client.</summary>
    public string? Password { get; init; }

    /// <summary>GENERATE/CHAT/EXPLAIN ANALYZE statements running at once across all connections; one more fails at
    /// once with SQLSTATE 53000 (insufficient resources).</summary>
    public int MaxConcurrentGenerations { get; init; } = 4;

    /// <summary>Test seam: awaited before each result row is fetched, with the statement text and the statement's
    /// cancellation token (lets tests hold a statement running without a slow model).</summary>
    internal Func<string, CancellationToken, Task>? BeforeRowForTests { get; init; }
}
