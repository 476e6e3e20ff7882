namespace Vib3.Server.PgWire.Protocol.Backend;

/// <summary>'D' DataRow: one row, each value already encoded (text format: UTF-8 of the value's text form).
/// Layout: 'D', Int32 length = 4 + 2 + per column (4 + the value's byte count, nothing for NULL), Int16 column
/// count, then per column Int32 value length (-1 for NULL, then no bytes; 0 is the empty string) and the bytes.</summary>
internal sealed class DataRow(IReadOnlyList<byte[]?> values) : IBackendMessage
{
    public IReadOnlyList<byte[]?> Values { get; } = values;

    public void Write(MessageBuffer buffer)
    {
        buffer.Begin((byte)'D');
        buffer.WriteInt16(checked((short)Values.Count));
        foreach (var v in Values)
        {
            if (v is null)
            {
                buffer.WriteInt32(-1);
                continue;
            }
            buffer.WriteInt32(v.Length);
            buffer.WriteBytes(v);
        }
        buffer.End();
    }
}
