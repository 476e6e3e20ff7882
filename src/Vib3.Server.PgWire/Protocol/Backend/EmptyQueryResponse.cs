namespace Vib3.Server.PgWire.Protocol.Backend;

/// <summary>'I' EmptyQueryResponse: the query text held no statement (it stands in for CommandComplete).
/// Layout: 'I', Int32 length = 4 (just the length field; no body).</summary>
internal sealed class EmptyQueryResponse : IBackendMessage
{
    public static readonly EmptyQueryResponse Instance = new();

    public void Write(MessageBuffer buffer)
    {
        buffer.Begin((byte)'I');
        buffer.End();
    }
}
