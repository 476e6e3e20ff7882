namespace Vib3.Server.PgWire.Protocol.Backend;

/// <summary>'R' AuthenticationOk: the client is in (trust authentication: nothing asked).
/// Layout: 'R', Int32 length = 8 (the length field 4 + the auth code 4), Int32 code 0.</summary>
internal sealed class AuthenticationOk : IBackendMessage
{
    public static readonly AuthenticationOk Instance = new();

    public void Write(MessageBuffer buffer)
    {
        buffer.Begin((byte)'R');
        buffer.WriteInt32(0);
        buffer.End();
    }
}
