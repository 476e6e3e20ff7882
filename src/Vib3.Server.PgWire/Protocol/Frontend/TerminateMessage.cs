namespace Vib3.Server.PgWire.Protocol.Frontend;

/// <summary>'X' Terminate: Byte1 'X', Int32 length = 4 (the length field only, no body). The client is leaving;
/// the server closes the connection without a reply.</summary>
internal sealed class TerminateMessage : IFrontendMessage
{
    public static readonly TerminateMessage Instance = new();
}
