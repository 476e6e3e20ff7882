namespace Vib3.Engine;

/// <summary>What a session's client may do, decided by the front end that opened the session (pg_hba-like):
/// whether it is local (connects from a trusted address, or is this machine's command line) and whether it may
/// administer. Local clients may point CREATE MODEL at any path the server can read; remote ones only under the
/// engine's import directories (<see cref="EngineOptions.ImportDirs"/>). Administrators may create and drop
/// models and indexes; everyone else may read, generate and change their own session's settings.</summary>
/// <param name="Local">The client is on this machine or a trusted network.</param>
/// <param name="Administrator">The client may run CREATE/DROP MODEL and CREATE/DROP INDEX.</param>
/// <param name="Client">Who the client is, for messages: "user \"bob\" from 10.0.0.5".</param>
public sealed record ClientAccess(bool Local, bool Administrator, string Client)
{
    /// <summary>The REPL, `vib3 query` and the other commands: the person at this machine's command line.</summary>
    public static ClientAccess LocalAdministrator { get; } = new(true, true, "the local command line");
}
