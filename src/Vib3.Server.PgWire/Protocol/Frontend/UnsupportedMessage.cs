namespace Vib3.Server.PgWire.Protocol.Frontend;

/// <summary>A well-framed message of a type the server does not handle (FunctionCall 'F', the COPY messages, ...):
/// Byte1 type, Int32 length = 4 + body bytes, then the body, kept as read.</summary>
internal sealed class UnsupportedMessage(byte type, byte[] body) : IFrontendMessage
{
    public byte Type { get; } = type;
    public byte[] Body { get; } = body;
}
