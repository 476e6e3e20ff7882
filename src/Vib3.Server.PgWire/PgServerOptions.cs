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

    /// <summary>The password every user must give (SCRAM-SHA-256); null trusts every client, which the server
    /// allows only on a loopback address unless <see cref="InsecureNoAuth"/> says otherwise.</summary>
    public string? Password { get; init; }

    /// <summary>Listen beyond loopback with no password (--insecure-no-auth): clients from untrusted networks still
    /// get in, read-only.</summary>
    public bool InsecureNoAuth { get; init; }

    /// <summary>Clients whose address is in one of these are local (pg_hba-like): they administer unless
    /// <see cref="AdminUser"/> is set and may CREATE MODEL from any path; everyone else is remote. Default: loopback
    /// (127.0.0.0/8 and ::1); empty: no client is local.</summary>
    public IReadOnlyList<System.Net.IPNetwork> TrustedNetworks { get; init; } = DefaultTrustedNetworks;

    public static IReadOnlyList<System.Net.IPNetwork> DefaultTrustedNetworks { get; } =
        [System.Net.IPNetwork.Parse("127.0.0.0/8"), System.Net.IPNetwork.Parse("::1/128")];

    /// <summary>The only user who administers (CREATE/DROP MODEL, CREATE/DROP INDEX), from wherever it connects;
    /// needs <see cref="Password"/>. Null: the clients of <see cref="TrustedNetworks"/> administer.</summary>
    public string? AdminUser { get; init; }

    /// <summary>GENERATE/CHAT/EXPLAIN ANALYZE statements running at once across all connections; one more fails at
    /// once with SQLSTATE 53000 (insufficient resources).</summary>
    public int MaxConcurrentGenerations { get; init; } = 4;

    /// <summary>Test seam: awaited before each result row is fetched, with the statement text and the statement's
    /// cancellation token (lets tests hold a statement running without a slow model).</summary>
    internal Func<string, CancellationToken, Task>? BeforeRowForTests { get; init; }
}
