using System.Net;
using Vib3.Engine;

namespace Vib3.Server.PgWire;

/// <summary>Who a Postgres client is once it got in (pg_hba-like): local when its address is in a trusted network,
/// an administrator when it is local (by default) or, with an admin user set, when it logged in as that user.</summary>
internal static class ClientAccessRules
{
    public static ClientAccess For(IPAddress peer, string user, PgServerOptions options)
    {
        if (peer.IsIPv4MappedToIPv6) peer = peer.MapToIPv4(); // a dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d
        var local = options.TrustedNetworks.Any(n => n.Contains(peer));
        var administrator = options.AdminUser is { } admin ? string.Equals(user, admin, StringComparison.Ordinal) : local;
        return new ClientAccess(local, administrator, $"user \"{user}\" from {peer}");
    }
}
