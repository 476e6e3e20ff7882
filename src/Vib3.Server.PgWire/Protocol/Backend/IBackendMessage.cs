namespace Vib3.Server.PgWire.Protocol.Backend;

/// <summary>A message the server sends: it writes itself (type byte, length, body) into a <see cref="MessageBuffer"/>.</summary>
internal interface IBackendMessage
{
    void Write(MessageBuffer buffer);
}
