using System.Net;
using Vib3.Core;

namespace Vib3.Engine;

/// <summary>Trust only on loopback (PostgreSQL's pg_hba default): a server listening where other machines can
/// reach it must ask them for a secret, unless the operator says in so many words that it need not
/// (--insecure-no-auth). Both servers check it when they start; `vib3 serve` checks it before binding anything.</summary>
public static class ListenRule
{
    /// <summary>Why listening on <paramref name="address"/> is refused, or null when it is allowed.</summary>
    /// <param name="server">What would listen: "Postgres", "HTTP".</param>
    /// <param name="secret">What it would ask for and where it comes from, for the message.</param>
    public static string? Refusal(IPAddress address, bool asksForSecret, bool insecureNoAuth, string server, string secret) =>
        IPAddress.IsLoopback(address) || asksForSecret || insecureNoAuth
            ? null
            : $"refusing to serve {server} on {address} without {secret}: other machines could connect with no login (pass --insecure-no-auth to allow it anyway)";

    /// <summary>Throws 28000 with <see cref="Refusal"/>'s line when listening there is refused.</summary>
    public static void Check(IPAddress address, bool asksForSecret, bool insecureNoAuth, string server, string secret)
    {
        if (Refusal(address, asksForSecret, insecureNoAuth, server, secret) is { } refusal)
            throw new Vib3Exception(SqlState.InvalidAuthorizationSpecification, refusal);
    }
}
