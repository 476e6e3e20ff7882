using System.Text.RegularExpressions;

namespace Vib3.Server.PgWire;

/// <summary>DISCARD ALL — what Npgsql's pool sends when a connection goes back to the pool. The wire layer answers it:
/// it drops the connection's prepared statements (which live here) and resets the session's settings.</summary>
internal static partial class DiscardAll
{
    public const string Tag = "DISCARD ALL";

    /// <summary>What the engine runs for it: the settings part of DISCARD ALL.</summary>
    public const string EngineEquivalent = "RESET ALL";

    public static bool Matches(string sql) => Pattern().IsMatch(sql);

    [GeneratedRegex(@"^\s*DISCARD\s+ALL\s*;?\s*$", RegexOptions.IgnoreCase)]
    private static partial Regex Pattern();
}
