namespace Vib3.Server.PgWire.Protocol.Backend;

/// <summary>'t' ParameterDescription: the parameters a prepared statement takes (sent for every Describe of a
/// statement, even one with none). Layout: 't', Int32 length = 4 + 2 + 4 per parameter, Int16 count, then each
/// parameter's Int32 type OID.</summary>
internal sealed class ParameterDescription(IReadOnlyList<int> typeOids) : IBackendMessage
{
    public IReadOnlyList<int> TypeOids { get; } = typeOids;

    public void Write(MessageBuffer buffer)
    {
        buffer.Begin((byte)'t');
        buffer.WriteInt16(checked((short)TypeOids.Count));
        foreach (var oid in TypeOids) buffer.WriteInt32(oid);
        buffer.End();
    }
}
