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
    public static readonly IReadOnlyList<string> Tables =
        ["vib3_expert_tiers", "vib3_experts", "vib3_indexes", "vib3_layers", "vib3_models", "vib3_sessions", "vib3_tensors", "vib3_tiers"];

    public static int TableOid(string table) => FirstTableOid + Tables.ToList().IndexOf(table);

    public static string? TableByOid(long oid) =>
        oid >= FirstTableOid && oid < FirstTableOid + Tables.Count ? Tables[(int)(oid - FirstTableOid)] : null;

    /// <summary>Hard-coded copy of the column lists in src/Vib3.Engine/SystemTables.cs (internal to the engine), used
    /// only when asking the engine for them (<c>SELECT * FROM t LIMIT 0</c>) fails. Keep in step with that file.</summary>
    public static readonly IReadOnlyDictionary<string, PgColumn[]> SystemTableColumnsFallback = new Dictionary<string, PgColumn[]>
    {
        ["vib3_models"] =
        [
            new("name", ColumnType.Text), new("family", ColumnType.Text), new("architecture", ColumnType.Text),
            new("layers", ColumnType.Int64), new("experts", ColumnType.Int64), new("top_k", ColumnType.Int64),
            new("dtype", ColumnType.Text), new("parameters", ColumnType.Int64), new("active_parameters", ColumnType.Int64),
            new("bytes", ColumnType.Int64), new("pages", ColumnType.Int64), new("error", ColumnType.Text),
        ],
        ["vib3_layers"] =
        [
            new("model", ColumnType.Text), new("layer", ColumnType.Int64), new("experts", ColumnType.Int64),
            new("top_k", ColumnType.Int64), new("bundle_rows", ColumnType.Int64), new("bundles_per_expert", ColumnType.Int64),
            new("expert_bytes", ColumnType.Int64), new("gate_up_dtype", ColumnType.Text), new("down_dtype", ColumnType.Text),
            new("bits_per_weight", ColumnType.Float64),
        ],
        ["vib3_tensors"] =
        [
            new("model", ColumnType.Text), new("name", ColumnType.Text), new("layer", ColumnType.Int64), new("role", ColumnType.Text),
            new("dtype", ColumnType.Text), new("shape", ColumnType.Text), new("parameters", ColumnType.Int64), new("bytes", ColumnType.Int64),
            new("bits_per_weight", ColumnType.Float64),
        ],
        ["vib3_experts"] =
        [
            new("model", ColumnType.Text), new("layer", ColumnType.Int64), new("expert", ColumnType.Int64),
            new("pages", ColumnType.Int64), new("bytes", ColumnType.Int64), new("times_selected", ColumnType.Int64),
        ],
        ["vib3_tiers"] =
        [
            new("model", ColumnType.Text), new("tier", ColumnType.Text), new("resident_pages", ColumnType.Int64),
            new("resident_bytes", ColumnType.Int64), new("capacity_bytes", ColumnType.Int64), new("hits", ColumnType.Int64),
            new("misses", ColumnType.Int64), new("bytes_read", ColumnType.Int64), new("evictions", ColumnType.Int64),
            new("prefetched_pages", ColumnType.Int64), new("prefetched_used", ColumnType.Int64),
            new("page_wait_seconds", ColumnType.Float64), new("direct_io", ColumnType.Bool),
        ],
        ["vib3_expert_tiers"] =
        [
            new("model", ColumnType.Text), new("layer", ColumnType.Int64), new("hits", ColumnType.Int64),
            new("joined", ColumnType.Int64), new("from_disk", ColumnType.Int64), new("hit_rate", ColumnType.Float64),
        ],
        ["vib3_sessions"] =
        [
            new("id", ColumnType.Int64), new("client", ColumnType.Text), new("application_name", ColumnType.Text),
            new("current_model", ColumnType.Text), new("state", ColumnType.Text), new("statement", ColumnType.Text),
            new("started_at", ColumnType.Text),
        ],
        ["vib3_indexes"] =
        [
            new("model", ColumnType.Text), new("layer", ColumnType.Int64), new("pages", ColumnType.Int64), new("dims", ColumnType.Int64),
            new("keys", ColumnType.Text), new("metric", ColumnType.Text), new("kind", ColumnType.Text), new("m", ColumnType.Int64),
            new("bytes", ColumnType.Int64),
        ],
    };

    /// <summary>The server asking the engine for a table's columns: it reads, nothing more.</summary>
    private static readonly ClientAccess ColumnsReader = new(Local: false, Administrator: false, "the pg_catalog column lookup");

    /// <summary>The table's columns as the engine reports them, or the hard-coded list if the engine can't say.</summary>
    public static IReadOnlyList<PgColumn> Columns(Vib3Engine engine, string table)
    {
        try
        {
            using var session = engine.OpenSession(ColumnsReader);
            var results = session.ExecuteAsync($"SELECT * FROM {table} LIMIT 0").GetAsyncEnumerator();
            try
            {
                if (results.MoveNextAsync().AsTask().GetAwaiter().GetResult() && results.Current.Columns.Count > 0)
                    return results.Current.Columns.Select(c => new PgColumn(c.Name, c.Type)).ToList();
            }
            finally
            {
                results.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
        }
        catch (Exception)
        {
            // fall through to the copy
        }
        return SystemTableColumnsFallback[table];
    }

    /// <summary>format_type() spelling, type oid and typlen of a vib3 column type (the ones PgTypes sends).</summary>
    public static (string Format, int Oid, short Length) TypeOf(ColumnType type) => type switch
    {
        ColumnType.Int64 => ("bigint", 20, 8),
        ColumnType.Float64 => ("double precision", 701, 8),
        ColumnType.Bool => ("boolean", 16, 1),
        _ => ("text", 25, -1),
    };
}
