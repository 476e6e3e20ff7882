namespace Vib3.Soak;

/// <summary>The soak's own bounds: every wait has a deadline, and a process that grows past the memory cap is
/// killed rather than allowed to take the machine down.</summary>
internal static class Limits
{
    /// <summary>Any vib3 process (server, convert, query) past this RSS is killed and the case counts as unbounded
    /// memory. vib3-moe served needs a few hundred MB.</summary>
    public const long MemoryCapBytes = 2L << 30;

    /// <summary>Server RSS growth across one case (after − before) beyond which memory was not given back.</summary>
    public const long RetainedGrowthBytes = 256L << 20;

    /// <summary>How long /health and psql SELECT 1 may take after a case before the server counts as hung.</summary>
    public static readonly TimeSpan ProbeDeadline = TimeSpan.FromSeconds(10);

    /// <summary>How long a Postgres client may take to connect and log in. Generous: on 2 cores shared with other builds
    /// (load average 30–45) even starting 16 `psql --version` at once took 3 s, and 16 Npgsql logins that begin together
    /// with 16 HTTP streams on a fresh server sometimes missed a 10 s limit.</summary>
    public static readonly TimeSpan ConnectDeadline = TimeSpan.FromSeconds(30);

    /// <summary>How long `vib3 serve` may take to print that it listens.</summary>
    public static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(60);

    /// <summary>How often memory is sampled while a case runs.</summary>
    public static readonly TimeSpan SampleEvery = TimeSpan.FromMilliseconds(50);
}
