namespace Vib3.Server.PgWire.Protocol.Backend;

/// <summary>'Z' ReadyForQuery: the server waits for the next query.
/// Layout: 'Z', Int32 length = 5 (length 4 + status byte 1), Byte1 transaction status: 'I' idle (vib3 has no
/// transactions, so always idle), 'T' in a transaction block, 'E' in a failed one.</summary>
internal sealed class ReadyForQuery(byte status) : IBackendMessage
{
    public static readonly ReadyForQuery Idle = new((byte)'I');

    public byte Status { get; } = status;

    public void Write(MessageBuffer buffer)
    {
        buffer.Begin((byte)'Z');
        buffer.WriteByte(Status);
        buffer.End();
    }
}
