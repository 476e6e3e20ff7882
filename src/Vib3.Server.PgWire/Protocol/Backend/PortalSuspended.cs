namespace Vib3.Server.PgWire.Protocol.Backend;

/// <summary>'s' PortalSuspended: Execute stopped at its row limit; the portal keeps the rest for the next Execute. Layout: 's', Int32 length = 4 (no body).</summary>
internal sealed class PortalSuspended : IBackendMessage
{
    public static readonly PortalSuspended Instance = new();

    public void Write(MessageBuffer buffer)
    {
        buffer.Begin((byte)'s');
        buffer.End();
    }
}
