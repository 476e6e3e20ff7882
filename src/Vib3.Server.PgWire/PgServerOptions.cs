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

    /// <summary>Connections open at once (from accept to close, before and after login); one more gets FATAL 53300
    /// "sorry, too many clients already" and is closed before anything is allocated for it. PostgreSQL's
    /// max_connections default.</summary>
    public int MaxConnections { get; init; } = 100;

    /// <summary>How long a logged-in connection may sit idle (no statement open) before it is closed with FATAL 57P05,
    /// like PostgreSQL's idle_session_timeout; <see cref="TimeSpan.Zero"/> keeps idle connections forever. The default
    /// hour outlasts any pool's own pruning (Npgsql closes pooled connections idle for 300 s) and a paused psql
    /// session, yet a connection a client abandoned no longer holds one of <see cref="MaxConnections"/> for good.</summary>
    public TimeSpan IdleSessionTimeout { get; init; } = TimeSpan.FromHours(1);

    /// <summary>How long a connection may wait between extended-protocol messages before its Sync (a portal bound,
    /// or suspended mid-stream, possibly holding a generation slot) before it is closed with FATAL 25P03, like
    /// PostgreSQL's idle_in_transaction_session_timeout; zero: no limit. Drivers send Sync with the rest of a
    /// statement, so a minute is only reached by a broken or hostile client.</summary>
    public TimeSpan IdleInTransactionTimeout { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Longest a statement may run (a simple query, or the extended-protocol messages up to Sync) before it
    /// is cancelled with 57014 "canceling statement due to statement timeout"; zero: no limit (PostgreSQL's
    /// statement_timeout default).</summary>
    public TimeSpan StatementTimeout { get; init; } = TimeSpan.Zero;

    /// <summary>Largest message a logged-in client may send: a statement's text, or a Bind's parameters (a prompt).
    /// A longer one is read past without being kept and answered with 54000.</summary>
    public int MaxMessageBytes { get; init; } = DefaultMaxMessageBytes;

    /// <summary>16 MiB: a prompt filling a 1M-token context is about 4 MiB of text.</summary>
    public const int DefaultMaxMessageBytes = 16 << 20;
}
