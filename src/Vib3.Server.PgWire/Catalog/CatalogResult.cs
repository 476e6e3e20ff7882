using System.Text;
using Vib3.Server.PgWire.Protocol;
using Vib3.Server.PgWire.Protocol.Backend;

namespace Vib3.Server.PgWire.Catalog;

/// <summary>One column of a catalog answer, as RowDescription describes it.</summary>
public sealed record CatalogColumn(string Name, int TypeOid, short TypeSize);

/// <summary>One statement's answer from the virtual pg_catalog: command tag, columns, and rows in text format
/// (null = SQL NULL).</summary>
public sealed record CatalogResult(string CommandTag, IReadOnlyList<CatalogColumn> Columns, IReadOnlyList<string?[]> Rows)
{
    /// <summary>RowDescription, one DataRow per row, CommandComplete (text format; no ReadyForQuery).</summary>
    internal void WriteTo(MessageBuffer buffer)
    {
        new RowDescription(Columns.Select(c => new FieldDescription(c.Name, c.TypeOid, c.TypeSize)).ToList()).Write(buffer);
        foreach (var row in Rows)
            new DataRow(row.Select(v => v is null ? null : Encoding.UTF8.GetBytes(v)).ToList()).Write(buffer);
        new CommandComplete(CommandTag).Write(buffer);
    }
}
