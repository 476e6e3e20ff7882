using System.Globalization;
using System.Text.RegularExpressions;
using Vib3.Engine;
using Vib3.Server.PgWire.Protocol;

namespace Vib3.Server.PgWire.Catalog;

/// <summary>Answers the catalog queries real clients send — Npgsql's first-connection type loading, psql's
/// <c>\d</c>, <c>\dt</c>, <c>\d table</c>, <c>\l</c> — from a small virtual pg_catalog (<see cref="VirtualCatalog"/>),
/// so those clients proceed. A text is answered only when every statement in it is recognised and at least one
/// touches the catalog; otherwise the caller runs it through the engine as usual.</summary>
public static class PgCatalog
{
    /// <summary>What version() says inside a catalog batch (Npgsql keeps it as the server's long version).</summary>
    public const string VersionString = "PostgreSQL 16.0 (vib3) on x86_64-pc-linux-gnu, compiled by .NET, 64-bit";

    /// <summary>One result per statement of <paramref name="sql"/>, or false when the text is not (wholly) a catalog query.</summary>
    public static bool TryAnswer(string sql, Vib3Engine engine, out IReadOnlyList<CatalogResult> results)
    {
        results = [];
        if (string.IsNullOrWhiteSpace(sql) || !sql.Contains("pg_", StringComparison.OrdinalIgnoreCase)) return false;
        var statements = CatalogSql.Split(sql);
        if (statements.Count == 0) return false;
        var answers = new List<CatalogResult>(statements.Count);
        var touchesCatalog = false;
        foreach (var statement in statements)
        {
            if (IsVersion(statement))
            {
                answers.Add(Result(new CatalogColumn[] { new("version", 25, -1) }, [[VersionString]]));
                continue;
            }
            var answer = Answer(statement, engine);
            if (answer is null) return false;
            touchesCatalog = true;
            answers.Add(answer);
        }
        if (!touchesCatalog) return false;
        results = answers;
        return true;
    }

    /// <summary>For the simple-query path: writes RowDescription/DataRow/CommandComplete for each statement and
    /// returns true, or writes nothing and returns false. The caller still sends ReadyForQuery.</summary>
    internal static bool TryWrite(string sql, Vib3Engine engine, MessageBuffer buffer)
    {
        if (!TryAnswer(sql, engine, out var results)) return false;
        foreach (var r in results) r.WriteTo(buffer);
        return true;
    }

    private static bool IsVersion(string statement) =>
        Regex.IsMatch(statement, @"^select\s+(pg_catalog\.)?version\s*\(\s*\)(\s+as\s+""?version""?)?$", RegexOptions.IgnoreCase);

    private static CatalogResult? Answer(string statement, Vib3Engine engine)
    {
        var lower = statement.ToLowerInvariant();
        if (!lower.Contains("pg_", StringComparison.Ordinal)) return null;
        var items = CatalogSql.SelectList(statement);
        if (items is null) return null;

        // Npgsql: SELECT ns.nspname, t.oid, t.typname, t.typtype, t.typnotnull, t.elemtypoid FROM (... pg_type ...)
        if (lower.Contains("from pg_type as typ") && lower.Contains("elemtypoid") && lower.Contains("pg_namespace"))
            return Rows(items, NpgsqlTypeRows());
        // Npgsql: composite type fields (pg_type JOIN pg_attribute): we have no composites.
        if (lower.Contains("from pg_type as typ") && lower.Contains("join pg_attribute as att"))
            return Rows(items, []);
        // Npgsql: enum labels: we have no enums.
        if (lower.Contains("from pg_enum") && lower.Contains("enumlabel"))
            return Rows(items, []);

        // psql \l
        if (lower.Contains("from pg_catalog.pg_database d"))
        {
            var name = CatalogSql.Filter(statement, "datname");
            var rows = name is null || name.IsMatch(VirtualCatalog.Database) ? new[] { DatabaseRow() } : [];
            return Rows(items, rows);
        }

        if (lower.Contains("from pg_catalog.pg_class c"))
        {
            // psql \d NAME, first step: SELECT c.oid, n.nspname, c.relname ... WHERE c.relname OPERATOR(pg_catalog.~) '^(NAME)$'
            if (items.Select(i => i.Key).SequenceEqual(["oid", "nspname", "relname"]))
                return Rows(items, MatchingTables(statement).Select(t => Values(
                    ("oid", Oid(VirtualCatalog.TableOid(t))), ("nspname", VirtualCatalog.Schema), ("relname", t))));
            // psql \d NAME, second step: SELECT c.relchecks, c.relkind, ... WHERE c.oid = 'N'
            if (lower.Contains("c.relchecks"))
            {
                var table = CatalogSql.OidEquals(statement, "c.oid") is { } oid ? VirtualCatalog.TableByOid(oid) : null;
                return Result(items, table is null ? [] : [items.Select(TableInfoValue).ToArray()]);
            }
            // psql \d, \dt, \dv, \di ...: the relation list, by kind.
            if (lower.Contains("c.relkind in (") && items.Any(i => i.Key == "name"))
            {
                var kinds = Regex.Match(lower, @"c\.relkind in \(([^)]*)\)").Groups[1].Value;
                var tables = kinds.Contains("'r'", StringComparison.Ordinal) ? MatchingTables(statement) : [];
                return Rows(items, tables.Select(RelationRow));
            }
        }

        // psql \d NAME, the columns: SELECT a.attname, pg_catalog.format_type(...), ... FROM pg_catalog.pg_attribute a WHERE a.attrelid = 'N'
        if (lower.Contains("from pg_catalog.pg_attribute a") && CatalogSql.OidEquals(statement, "a.attrelid") is { } relid)
        {
            var table = VirtualCatalog.TableByOid(relid);
            if (table is null) return Result(items, []);
            var columns = VirtualCatalog.Columns(table);
            return Result(items, columns.Select((c, n) => items.Select(i => AttributeValue(i, c, n + 1)).ToArray()).ToList());
        }

        // psql \d NAME follow-ups (indexes, policies, statistics, publications, inheritance, triggers, constraints):
        // the vib3 tables have none of these.
        if (EmptyFollowUps.Any(f => lower.Contains(f, StringComparison.Ordinal)))
            return Result(items, []);
        return null;
    }

    private static readonly string[] EmptyFollowUps =
    [
        "pg_catalog.pg_inherits", "pg_catalog.pg_policy", "pg_catalog.pg_statistic_ext", "pg_catalog.pg_publication",
        "pg_catalog.pg_trigger", "pg_catalog.pg_constraint", "pg_catalog.pg_index ", "pg_catalog.pg_index,",
        "pg_catalog.pg_rewrite", "pg_catalog.pg_foreign_table",
    ];

    private static IEnumerable<string> MatchingTables(string statement)
    {
        var name = CatalogSql.Filter(statement, "relname");
        var schema = CatalogSql.Filter(statement, "nspname");
        if (schema is not null && !schema.IsMatch(VirtualCatalog.Schema)) return [];
        return VirtualCatalog.Tables.Where(t => name is null || name.IsMatch(t));
    }

    private static Dictionary<string, string?> DatabaseRow() => Values(
        ("name", VirtualCatalog.Database), ("owner", VirtualCatalog.Owner), ("encoding", "UTF8"), ("locale provider", "libc"),
        ("collate", "C.UTF-8"), ("ctype", "C.UTF-8"), ("size", "0 bytes"), ("tablespace", "pg_default"));

    private static Dictionary<string, string?> RelationRow(string table) => Values(
        ("schema", VirtualCatalog.Schema), ("name", table), ("type", "table"), ("owner", VirtualCatalog.Owner),
        ("persistence", "permanent"), ("access method", "heap"), ("size", "0 bytes"));

    private static IEnumerable<Dictionary<string, string?>> NpgsqlTypeRows()
    {
        foreach (var t in VirtualCatalog.Types)
            yield return Values(("nspname", "pg_catalog"), ("oid", Oid(t.Oid)), ("typname", t.Name),
                ("typtype", t.TypType.ToString()), ("typnotnull", "f"));
        foreach (var t in VirtualCatalog.Types.Where(t => t.ArrayOid != 0))
            yield return Values(("nspname", "pg_catalog"), ("oid", Oid(t.ArrayOid)), ("typname", "_" + t.Name),
                ("typtype", "a"), ("typnotnull", "f"), ("elemtypoid", Oid(t.Oid)));
    }

    private static string? TableInfoValue(SelectItem item) => item.Key switch
    {
        "relchecks" or "reltablespace" => "0",
        "relkind" => "r",
        "relhasindex" or "relhasrules" or "relhastriggers" or "relrowsecurity" or "relforcerowsecurity" or "relhasoids"
            or "relispartition" => "f",
        "relpersistence" => "p",
        "relreplident" => "d",
        "amname" => "heap",
        _ when item.Expr == "''" || item.Expr.Contains("reloftype", StringComparison.Ordinal)
               || item.Expr.Contains("array_to_string", StringComparison.Ordinal) => "",
        _ => null,
    };

    private static string? AttributeValue(SelectItem item, PgColumn column, int attnum) => item.Key switch
    {
        "attname" => column.Name,
        "format_type" => VirtualCatalog.TypeOf(column.Type).Format,
        "attnotnull" => "f",
        "attnum" => attnum.ToString(CultureInfo.InvariantCulture),
        "attidentity" or "attgenerated" or "attcompression" => "",
        "attstorage" => VirtualCatalog.TypeOf(column.Type).Length < 0 ? "x" : "p",
        _ => null,
    };

    private static string Oid(int oid) => oid.ToString(CultureInfo.InvariantCulture);

    private static Dictionary<string, string?> Values(params (string Key, string? Value)[] values) =>
        values.ToDictionary(v => v.Key, v => v.Value);

    /// <summary>Rows given by output name (lower case); columns the query selects that a row doesn't name are NULL.</summary>
    private static CatalogResult Rows(List<SelectItem> items, IEnumerable<Dictionary<string, string?>> rows) =>
        Result(items, rows.Select(r => items.Select(i => r.GetValueOrDefault(i.Key)).ToArray()).ToList());

    private static CatalogResult Result(List<SelectItem> items, IReadOnlyList<string?[]> rows) =>
        Result(items.Select(Column).ToList(), rows);

    private static CatalogResult Result(IReadOnlyList<CatalogColumn> columns, IReadOnlyList<string?[]> rows) =>
        new($"SELECT {rows.Count}", columns, rows);

    /// <summary>Type of an output column: oids as oid, the flags as bool, the rest as text.</summary>
    private static CatalogColumn Column(SelectItem item) => item.Key switch
    {
        "oid" or "elemtypoid" or "atttypid" or "typnamespace" or "reltablespace" => new(item.Name, 26, 4),
        "typnotnull" or "attnotnull" or "relhasindex" or "relhasrules" or "relhastriggers" or "relrowsecurity"
            or "relforcerowsecurity" or "relhasoids" or "relispartition" => new(item.Name, 16, 1),
        "relchecks" or "attnum" => new(item.Name, 21, 2),
        _ => new(item.Name, 25, -1),
    };
}
