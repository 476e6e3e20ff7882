using System.Net;
using System.Net.Sockets;

namespace Vib3.Cli.Commands;

/// <summary>--listen's value: an IP address, or a host name resolved once at start (the first IPv4 address it has,
/// else its first address; `localhost` is loopback). What is listened on is that address, so the exposure rule
/// (<see cref="Engine.ListenRule"/>) judges what the name resolves to, not the name.</summary>
internal static class ListenAddress
{
    public static IPAddress Resolve(string host)
    {
        if (IPAddress.TryParse(host, out var address)) return address;
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase)) return IPAddress.Loopback;
        IPAddress[] found;
        try { found = Dns.GetHostAddresses(host); }
        catch (Exception e) when (e is SocketException or ArgumentException)
        {
            throw new UsageException($"--listen '{host}' is not an IP address or a host name that resolves ({e.Message})");
        }
        return found.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? found.FirstOrDefault()
            ?? throw new UsageException($"--listen '{host}' resolves to no address");
    }

    /// <summary>The port option's value, refused unless it is a TCP port (0: any free one).</summary>
    public static int? Port(int? port, string option) =>
        port is null or (>= IPEndPoint.MinPort and <= IPEndPoint.MaxPort) ? port
            : throw new UsageException($"{option} {port} is out of range (0 to {IPEndPoint.MaxPort}; 0 picks a free port)");
}
