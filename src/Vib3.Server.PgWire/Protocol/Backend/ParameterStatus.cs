namespace Vib3.Server.PgWire.Protocol.Backend;

/// <summary>'S' ParameterStatus: one run-time setting the client should know (server_version, client_encoding...).
/// Layout: 'S', Int32 length = 4 + the UTF-8 bytes of name and value each with its zero terminator,
/// then the name cstring and the value cstring.</summary>
internal sealed class ParameterStatus(string name, string value) : IBackendMessage
{
    public string Name { get; } = name;
    public string Value { get; } = value;

    public void Write(MessageBuffer buffer)
    {
        buffer.Begin((byte)'S');
        buffer.WriteCString(Name);
        buffer.WriteCString(Value);
        buffer.End();
    }
}
