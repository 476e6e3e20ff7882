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

    /// <summary>How long a Postgres client may take to connect and log in. Generous, because the soak runs beside other
    /// builds on 2 cores (at load 30–45, starting 16 `psql --version` at once took 3 s); the sigterm case reports its
    /// slowest login, so a slow one is seen without failing the run.</summary>
    public static readonly TimeSpan ConnectDeadline = TimeSpan.FromSeconds(30);

    /// <summary>How long `vib3 serve` may take to print that it listens.</summary>
    public static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(60);

    /// <summary>How often memory is sampled while a case runs.</summary>
    public static readonly TimeSpan SampleEvery = TimeSpan.FromMilliseconds(50);
}
