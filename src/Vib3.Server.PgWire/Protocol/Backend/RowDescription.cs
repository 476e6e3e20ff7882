namespace Vib3.Server.PgWire.Protocol.Backend;

/// <summary>One column as RowDescription describes it.</summary>
/// <param name="TypeSize">pg_type.typlen: the fixed size in bytes, or -1 for variable-length types.</param>
/// <param name="TypeModifier">pg_attribute.atttypmod; -1 when the type has none.</param>
/// <param name="Format">0 text, 1 binary.</param>
internal sealed record FieldDescription(string Name, int TypeOid, short TypeSize, int TypeModifier = -1, short Format = 0,
    int TableOid = 0, short ColumnAttributeNumber = 0);

/// <summary>'T' RowDescription: the columns of the rows that follow.
/// Layout: 'T', Int32 length = 4 + 2 + per field (name bytes + 1 terminator + 18 fixed bytes), Int16 field count,
/// then per field: name cstring, Int32 table oid (0: not a table column), Int16 attribute number (0: none),
/// Int32 type oid, Int16 typlen (-1 variable), Int32 typmod (-1 none), Int16 format code (0 text, 1 binary).</summary>
internal sealed class RowDescription(IReadOnlyList<FieldDescription> fields) : IBackendMessage
{
    public IReadOnlyList<FieldDescription> Fields { get; } = fields;

    public void Write(MessageBuffer buffer)
    {
        buffer.Begin((byte)'T');
        buffer.WriteInt16(checked((short)Fields.Count));
        foreach (var f in Fields)
        {
            buffer.WriteCString(f.Name);
            buffer.WriteInt32(f.TableOid);
            buffer.WriteInt16(f.ColumnAttributeNumber);
            buffer.WriteInt32(f.TypeOid);
            buffer.WriteInt16(f.TypeSize);
            buffer.WriteInt32(f.TypeModifier);
            buffer.WriteInt16(f.Format);
        }
        buffer.End();
    }
}
