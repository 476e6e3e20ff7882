namespace Vib3.Server.PgWire.Protocol.Frontend;

/// <summary>'E' Execute: Byte1 'E', Int32 length, String portal name, Int32 most rows to return (0 = no limit).
/// When the limit is reached the server sends PortalSuspended 's' and the rest waits for the next Execute.</summary>
internal sealed class ExecuteMessage(string portal, int maxRows) : IFrontendMessage
{
    public string Portal { get; } = portal;
    public int MaxRows { get; } = maxRows;

    public static ExecuteMessage Read(byte[] body)
    {
        var r = new BodyReader(body, "Execute");
        var portal = r.ReadCString();
        var max = r.ReadInt32();
        r.End();
        return new ExecuteMessage(portal, max);
    }
}
