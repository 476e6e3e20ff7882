namespace Vib3.Server.PgWire.Protocol.Backend;

/// <summary>'C' CommandComplete: one statement finished; the tag says what it did ("SELECT 3", "SET").
/// Layout: 'C', Int32 length = 4 + the tag's UTF-8 bytes + 1 terminator, then the tag cstring.</summary>
internal sealed class CommandComplete(string tag) : IBackendMessage
{
    public string Tag { get; } = tag;

    public void Write(MessageBuffer buffer)
    {
        buffer.Begin((byte)'C');
        buffer.WriteCString(Tag);
        buffer.End();
    }
}
