using Vib3.Engine;
using Vib3.Query.Execution;

namespace Vib3.Server.PgWire.Catalog;

/// <summary>A pg_type row of the virtual catalog.</summary>
internal sealed record PgTypeRow(int Oid, string Name, short Length, char TypType, int ArrayOid = 0);

/// <summary>A column of a vib3 system table as the catalog shows it.</summary>
internal sealed record PgColumn(string Name, ColumnType Type);

/// <summary>The contents of the virtual pg_catalog: types, the "vib3" schema and its system tables, one database.</summary>
internal static class VirtualCatalog
{
    public const string Database = "vib3";
    public const string Schema = "vib3";
    public const string Owner = "vib3";
    public const int PgCatalogNamespaceOid = 11;
    public const int Vib3NamespaceOid = 16384;
    public const int FirstTableOid = 16385;

    /// <summary>Base (and pseudo) types, then their array types: Npgsql needs an array's element loaded first.</summary>
    public static readonly IReadOnlyList<PgTypeRow> Types =
    [
        new(16, "bool", 1, 'b', 1000), new(17, "bytea", -1, 'b', 1001), new(18, "char", 1, 'b', 1002),
        new(19, "name", 64, 'b', 1003), new(20, "int8", 8, 'b', 1016), new(21, "int2", 2, 'b', 1005),
        new(23, "int4", 4, 'b', 1007), new(25, "text", -1, 'b', 1009), new(26, "oid", 4, 'b', 1028),
        new(114, "json", -1, 'b', 199), new(700, "float4", 4, 'b', 1021), new(701, "float8", 8, 'b', 1022),
        new(1043, "varchar", -1, 'b', 1015), new(1082, "date", 4, 'b', 1182), new(1114, "timestamp", 8, 'b', 1115),
        new(1184, "timestamptz", 8, 'b', 1185), new(1700, "numeric", -1, 'b', 1231), new(2950, "uuid", 16, 'b', 2951),
        new(3802, "jsonb", -1, 'b', 3807),
        new(2249, "record", -1, 'p'), new(2278, "void", 4, 'p'),
    ];

    /// <summary>The system tables, in the order (and with the oids) the catalog lists them: by name, as psql's ORDER BY
    /// under the C collation would sort them.</summary>
    public static readonly IReadOnlyList<string> Tables = SystemTableSchemas.ByName.Select(t => t.Key).ToArray();

    public static int TableOid(string table) => FirstTableOid + Tables.ToList().IndexOf(table);

    public static string? TableByOid(long oid) =>
        oid >= FirstTableOid && oid < FirstTableOid + Tables.Count ? Tables[(int)(oid - FirstTableOid)] : null;

    /// <summary>A system table's columns, as the engine defines them (<see cref="SystemTableSchemas"/>).</summary>
    public static IReadOnlyList<PgColumn> Columns(string table) =>
        SystemTableSchemas.ByName.First(t => t.Key == table).Value.Select(c => new PgColumn(c.Name, c.Type)).ToList();

    /// <summary>format_type() spelling, type oid and typlen of a vib3 column type (the ones PgTypes sends).</summary>
    public static (string Format, int Oid, short Length) TypeOf(ColumnType type) => type switch
    {
        ColumnType.Int64 => ("bigint", 20, 8),
        ColumnType.Float64 => ("double precision", 701, 8),
        ColumnType.Bool => ("boolean", 16, 1),
        _ => ("text", 25, -1),
    };
}
