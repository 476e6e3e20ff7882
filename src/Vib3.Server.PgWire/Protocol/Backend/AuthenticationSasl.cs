namespace Vib3.Server.PgWire.Protocol.Backend;

/// <summary>'R' AuthenticationSASL: the client must authenticate with one of the named SASL mechanisms.
/// Layout: 'R', Int32 length, Int32 code 10, then each mechanism name as a cstring, then one zero byte.</summary>
internal sealed class AuthenticationSasl(IReadOnlyList<string> mechanisms) : IBackendMessage
{
    public void Write(MessageBuffer buffer)
    {
        buffer.Begin((byte)'R');
        buffer.WriteInt32(10);
        foreach (var m in mechanisms) buffer.WriteCString(m);
        buffer.WriteByte(0);
        buffer.End();
    }
}

/// <summary>'R' AuthenticationSASLContinue: a server challenge. Layout: 'R', Int32 length, Int32 code 11, then the
/// mechanism's data (for SCRAM the server-first-message) filling the rest of the body.</summary>
internal sealed class AuthenticationSaslContinue(string data) : IBackendMessage
{
    public void Write(MessageBuffer buffer)
    {
        buffer.Begin((byte)'R');
        buffer.WriteInt32(11);
        buffer.WriteUtf8(data);
        buffer.End();
    }
}

/// <summary>'R' AuthenticationSASLFinal: the exchange succeeded. Layout: 'R', Int32 length, Int32 code 12, then
/// the additional data (for SCRAM the server-final-message "v=signature") filling the rest of the body.</summary>
internal sealed class AuthenticationSaslFinal(string data) : IBackendMessage
{
    public void Write(MessageBuffer buffer)
    {
        buffer.Begin((byte)'R');
        buffer.WriteInt32(12);
        buffer.WriteUtf8(data);
        buffer.End();
    }
}
