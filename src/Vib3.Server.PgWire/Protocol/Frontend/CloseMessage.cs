namespace Vib3.Server.PgWire.Protocol.Frontend;

/// <summary>'C' Close: Byte1 'C', Int32 length, Byte1 'S' (prepared statement) or 'P' (portal), String the name.
/// Closing a name that does not exist is not an error. Answered by CloseComplete '3'.</summary>
internal sealed class CloseMessage(byte kind, string name) : IFrontendMessage
{
    public byte Kind { get; } = kind;
    public string Name { get; } = name;

    public static CloseMessage Read(byte[] body)
    {
        var r = new BodyReader(body, "Close");
        var kind = r.ReadByte();
        var name = r.ReadCString();
        r.End();
        if (kind is not ((byte)'S' or (byte)'P')) throw new PgProtocolException($"invalid CLOSE message subtype {kind}");
        return new CloseMessage(kind, name);
    }
}
