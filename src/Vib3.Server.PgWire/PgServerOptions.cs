namespace Vib3.Server.PgWire;

/// <summary>Where and how the Postgres wire server listens.</summary>
public sealed record PgServerOptions
{
    /// <summary>TCP port on 127.0.0.1; 0 picks a free one (see <see cref="PgServer.Port"/>).</summary>
    public int Port { get; init; } = 5432;

    /// <summary>How long a new connection may take to send its startup packet before it is dropped.</summary>
    public TimeSpan StartupTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Reported to clients as the server_version parameter (plain numeric: Npgsql parses it as a Version).</summary>
    public string ServerVersion { get; init; } = "16.0";
}
