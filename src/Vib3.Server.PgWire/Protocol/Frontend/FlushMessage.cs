namespace Vib3.Server.PgWire.Protocol.Frontend;

/// <summary>'H' Flush: Byte1 'H', Int32 length = 4. The server sends whatever it has buffered, without ReadyForQuery.</summary>
internal sealed class FlushMessage : IFrontendMessage
{
    public static readonly FlushMessage Instance = new();
}
