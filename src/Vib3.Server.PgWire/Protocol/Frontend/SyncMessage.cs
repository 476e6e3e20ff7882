namespace Vib3.Server.PgWire.Protocol.Frontend;

/// <summary>'S' Sync: Byte1 'S', Int32 length = 4. Ends an extended-protocol batch: portals close, error skipping
/// stops, and the server answers ReadyForQuery.</summary>
internal sealed class SyncMessage : IFrontendMessage
{
    public static readonly SyncMessage Instance = new();
}
