using Vib3.Engine;
using Vib3.Server.PgWire.Catalog;

namespace Vib3.Server.PgWire.Tests;

/// <summary>The virtual pg_catalog, fed the exact query texts Npgsql 10 and psql 15/16 send (protocol data).</summary>
public sealed class PgCatalogTests : IDisposable
{
    private readonly string _data = Directory.CreateTempSubdirectory("vib3-pgcatalog-").FullName;
    private readonly Vib3Engine _engine;

    public PgCatalogTests() => _engine = new Vib3Engine(new EngineOptions(_data, 64L << 20));

    public void Dispose() => Directory.Delete(_data, recursive: true);

    private static string Row(string?[] row) => string.Join("|", row.Select(v => v ?? "<null>"));

    private IReadOnlyList<CatalogResult> Answer(string sql)
    {
        Assert.True(PgCatalog.TryAnswer(sql, _engine, out var results), "not recognised: " + sql);
        return results;
    }

    private const string NpgsqlTypes = """
        SELECT ns.nspname, t.oid, t.typname, t.typtype, t.typnotnull, t.elemtypoid
        FROM (
            -- Arrays have typtype=b - this subquery identifies them by their typreceive and converts their typtype to a
            -- We first do this for the type (innerest-most subquery), and then for its element type
            -- This also returns the array element, range subtype and domain base type as elemtypoid
            SELECT
                typ.oid, typ.typnamespace, typ.typname, typ.typtype, typ.typrelid, typ.typnotnull, typ.relkind,
                elemtyp.oid AS elemtypoid, elemtyp.typname AS elemtypname, elemcls.relkind AS elemrelkind,
                CASE WHEN elemproc.proname='array_recv' THEN 'a' ELSE elemtyp.typtype END AS elemtyptype
            FROM (
                SELECT typ.oid, typnamespace, typname, typrelid, typnotnull, relkind, typelem AS elemoid,
                    CASE WHEN proc.proname='array_recv' THEN 'a' ELSE typ.typtype END AS typtype,
                    CASE
                        WHEN proc.proname='array_recv' THEN typ.typelem
                        WHEN typ.typtype='r' THEN rngsubtype
                        WHEN typ.typtype='m' THEN (SELECT rngtypid FROM pg_range WHERE rngmultitypid = typ.oid)
                        WHEN typ.typtype='d' THEN typ.typbasetype
                    END AS elemtypoid
                FROM pg_type AS typ
                LEFT JOIN pg_class AS cls ON (cls.oid = typ.typrelid)
                LEFT JOIN pg_proc AS proc ON proc.oid = typ.typreceive
                LEFT JOIN pg_range ON (pg_range.rngtypid = typ.oid)
            ) AS typ
            LEFT JOIN pg_type AS elemtyp ON elemtyp.oid = elemtypoid
            LEFT JOIN pg_class AS elemcls ON (elemcls.oid = elemtyp.typrelid)
            LEFT JOIN pg_proc AS elemproc ON elemproc.oid = elemtyp.typreceive
        ) AS t
        JOIN pg_namespace AS ns ON (ns.oid = typnamespace)
        WHERE
            typtype IN ('b', 'r', 'm', 'e', 'd') OR -- Base, range, multirange, enum, domain
            (typtype = 'c' AND relkind='c') OR -- User-defined free-standing composites (not table composites) by default
            (typtype = 'p' AND typname IN ('record', 'void')) OR -- Some special supported pseudo-types
            (typtype = 'a' AND (  -- Array of...
                elemtyptype IN ('b', 'r', 'm', 'e', 'd') OR -- Array of base, range, multirange, enum, domain
                (elemtyptype = 'p' AND elemtypname IN ('record', 'void')) OR -- Arrays of special supported pseudo-types
                (elemtyptype = 'c' AND elemrelkind='c') -- Array of user-defined free-standing composites (not table composites) by default
            ))
        ORDER BY CASE
               WHEN typtype IN ('b', 'e', 'p') THEN 0           -- First base types, enums, pseudo-types
               WHEN typtype = 'r' THEN 1                        -- Ranges after
               WHEN typtype = 'm' THEN 2                        -- Multiranges after
               WHEN typtype = 'c' THEN 3                        -- Composites after
               WHEN typtype = 'd' AND elemtyptype <> 'a' THEN 4 -- Domains over non-arrays after
               WHEN typtype = 'a' THEN 5                        -- Arrays after
               WHEN typtype = 'd' AND elemtyptype = 'a' THEN 6  -- Domains over arrays last
        END;
        """;

    private const string NpgsqlComposites = """
        -- Load field definitions for (free-standing) composite types
        SELECT typ.oid, att.attname, att.atttypid
        FROM pg_type AS typ
        JOIN pg_namespace AS ns ON (ns.oid = typ.typnamespace)
        JOIN pg_class AS cls ON (cls.oid = typ.typrelid)
        JOIN pg_attribute AS att ON (att.attrelid = typ.typrelid)
        WHERE
          (typ.typtype = 'c' AND cls.relkind='c') AND
          attnum > 0 AND     -- Don't load system attributes
          NOT attisdropped
        ORDER BY typ.oid, att.attnum;
        """;

    private const string NpgsqlEnums = """
        -- Load enum fields
        SELECT pg_type.oid, enumlabel
        FROM pg_enum
        JOIN pg_type ON pg_type.oid=enumtypid
        ORDER BY oid, enumsortorder;
        """;

    [Fact]
    public void NpgsqlTypeLoadingBatch_GetsFourResults()
    {
        var batch = "SELECT version();\r\n" + NpgsqlTypes + "\r\n" + NpgsqlComposites + "\r\n" + NpgsqlEnums + "\r\n";
        var r = Answer(batch);
        Assert.Equal(4, r.Count);
        Assert.Equal("version", Assert.Single(r[0].Columns).Name);
        Assert.StartsWith("PostgreSQL 16.0", r[0].Rows.Single()[0]);
        Assert.Equal(["nspname", "oid", "typname", "typtype", "typnotnull", "elemtypoid"], r[1].Columns.Select(c => c.Name));
        var byOid = r[1].Rows.ToDictionary(x => int.Parse(x[1]!));
        foreach (var oid in new[] { 16, 17, 20, 21, 23, 25, 26, 114, 700, 701, 1043, 1184, 3802 })
        {
            Assert.Equal("b", byOid[oid][3]);
            Assert.Null(byOid[oid][5]);
        }
        Assert.Equal("pg_catalog|1007|_int4|a|f|23", Row(byOid[1007]));
        // Every array comes after its element (Npgsql skips arrays whose element it hasn't seen).
        var seen = new HashSet<string?>();
        foreach (var row in r[1].Rows)
        {
            if (row[3] == "a") Assert.Contains(row[5], seen);
            seen.Add(row[1]);
        }
        Assert.Equal($"SELECT {r[1].Rows.Count}", r[1].CommandTag);
        Assert.Equal(["oid", "attname", "atttypid"], r[2].Columns.Select(c => c.Name));
        Assert.Empty(r[2].Rows);
        Assert.Equal(["oid", "enumlabel"], r[3].Columns.Select(c => c.Name));
        Assert.Equal("SELECT 0", r[3].CommandTag);
    }

    [Theory]
    [InlineData("SELECT version()")]
    [InlineData("SELECT 1")]
    [InlineData("SHOW MODELS")]
    [InlineData("SELECT * FROM vib3_models")]
    [InlineData("SELECT version(); SELECT 1")]
    [InlineData("SELECT * FROM pg_catalog.pg_stat_activity")]
    [InlineData("SELECT version(); SELECT * FROM pg_catalog.pg_settings")]
    [InlineData("")]
    public void NonCatalogOrUnknown_IsLeftToTheEngine(string sql) =>
        Assert.False(PgCatalog.TryAnswer(sql, _engine, out _));

    private const string PsqlListRelations = """
        SELECT n.nspname as "Schema",
          c.relname as "Name",
          CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as "Type",
          pg_catalog.pg_get_userbyid(c.relowner) as "Owner"
        FROM pg_catalog.pg_class c
             LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam
        WHERE c.relkind IN ('r','p','v','m','S','f','')
              AND n.nspname <> 'pg_catalog'
              AND n.nspname !~ '^pg_toast'
              AND n.nspname <> 'information_schema'
          AND pg_catalog.pg_table_is_visible(c.oid)
        ORDER BY 1,2;
        """;

    [Fact]
    public void PsqlListRelations_ListsTheSystemTables()
    {
        var r = Assert.Single(Answer(PsqlListRelations));
        Assert.Equal(["Schema", "Name", "Type", "Owner"], r.Columns.Select(c => c.Name));
        Assert.Equal(["vib3_expert_tiers", "vib3_experts", "vib3_indexes", "vib3_layers", "vib3_models", "vib3_sessions", "vib3_tensors", "vib3_tiers"],
            r.Rows.Select(x => x[1]));
        Assert.All(r.Rows, x => { Assert.Equal("vib3", x[0]); Assert.Equal("table", x[2]); Assert.Equal("vib3", x[3]); });
        Assert.Equal("SELECT 8", r.CommandTag);
    }

    [Fact]
    public void PsqlDt_WithPatternAndOnlyTables()
    {
        var dt = PsqlListRelations.Replace("('r','p','v','m','S','f','')", "('r','p','')")
            .Replace("  AND pg_catalog.pg_table_is_visible(c.oid)",
                "  AND c.relname OPERATOR(pg_catalog.~) '^(vib3_m.*)$' COLLATE pg_catalog.default\n  AND pg_catalog.pg_table_is_visible(c.oid)");
        Assert.Equal(["vib3_models"], Assert.Single(Answer(dt)).Rows.Select(x => x[1]));
        var dv = PsqlListRelations.Replace("('r','p','v','m','S','f','')", "('v','')");
        Assert.Empty(Assert.Single(Answer(dv)).Rows);
    }

    [Fact]
    public void PsqlList_OneDatabase()
    {
        const string l = """
            SELECT
              d.datname as "Name",
              pg_catalog.pg_get_userbyid(d.datdba) as "Owner",
              pg_catalog.pg_encoding_to_char(d.encoding) as "Encoding",
              d.datlocprovider as "Locale Provider",
              d.datcollate as "Collate",
              d.datctype as "Ctype",
              d.daticulocale as "ICU Locale",
              d.daticurules as "ICU Rules",
              pg_catalog.array_to_string(d.datacl, E'\n') AS "Access privileges"
            FROM pg_catalog.pg_database d
            ORDER BY 1;
            """;
        var r = Assert.Single(Answer(l));
        Assert.Equal(9, r.Columns.Count);
        Assert.Equal("Access privileges", r.Columns[8].Name);
        var row = Assert.Single(r.Rows);
        Assert.Equal("vib3", row[0]);
        Assert.Equal("UTF8", row[2]);
        Assert.Null(row[8]);
    }

    [Fact]
    public void PsqlDescribeTable_AllSteps()
    {
        var lookup = Assert.Single(Answer("""
            SELECT c.oid,
              n.nspname,
              c.relname
            FROM pg_catalog.pg_class c
                 LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relname OPERATOR(pg_catalog.~) '^(vib3_models)$' COLLATE pg_catalog.default
              AND pg_catalog.pg_table_is_visible(c.oid)
            ORDER BY 2, 3;
            """));
        var found = Assert.Single(lookup.Rows);
        Assert.Equal("vib3", found[1]);
        Assert.Equal("vib3_models", found[2]);
        var oid = found[0]!;

        var info = Assert.Single(Answer($"""
            SELECT c.relchecks, c.relkind, c.relhasindex, c.relhasrules, c.relhastriggers, c.relrowsecurity, c.relforcerowsecurity, false AS relhasoids, c.relispartition, '', c.reltablespace, CASE WHEN c.reloftype = 0 THEN '' ELSE c.reloftype::pg_catalog.regtype::pg_catalog.text END, c.relpersistence, c.relreplident, am.amname
            FROM pg_catalog.pg_class c
             LEFT JOIN pg_catalog.pg_class tc ON (c.reltoastrelid = tc.oid)
            LEFT JOIN pg_catalog.pg_am am ON (c.relam = am.oid)
            WHERE c.oid = '{oid}';
            """));
        Assert.Equal(15, info.Columns.Count);
        Assert.Equal("0|r|f|f|f|f|f|f|f||0||p|d|heap", Row(info.Rows.Single()));

        var columns = Assert.Single(Answer($"""
            SELECT a.attname,
              pg_catalog.format_type(a.atttypid, a.atttypmod),
              (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true)
               FROM pg_catalog.pg_attrdef d
               WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef),
              a.attnotnull,
              (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t
               WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> t.typcollation) AS attcollation,
              a.attidentity,
              a.attgenerated
            FROM pg_catalog.pg_attribute a
            WHERE a.attrelid = '{oid}' AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attnum;
            """));
        Assert.Equal(7, columns.Columns.Count);
        Assert.Equal(VirtualCatalog.Columns("vib3_models").Select(c => c.Name), columns.Rows.Select(x => x[0]));
        Assert.Equal("name|text|<null>|f|<null>||", Row(columns.Rows[0]));
        Assert.Equal("bigint", columns.Rows.Single(x => x[0] == "layers")[1]);

        foreach (var followUp in new[]
                 {
                     $"SELECT pol.polname, pol.polpermissive,\n  CASE WHEN pol.polroles = '{{0}}' THEN NULL ELSE pg_catalog.array_to_string(array(select rolname from pg_catalog.pg_roles where oid = any (pol.polroles) order by 1),',') END,\n  pg_catalog.pg_get_expr(pol.polqual, pol.polrelid),\n  pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid),\n  CASE pol.polcmd\n    WHEN 'r' THEN 'SELECT'\n    WHEN 'a' THEN 'INSERT'\n    WHEN 'w' THEN 'UPDATE'\n    WHEN 'd' THEN 'DELETE'\n    END AS cmd\nFROM pg_catalog.pg_policy pol\nWHERE pol.polrelid = '{oid}' ORDER BY 1;",
                     $"SELECT c.oid::pg_catalog.regclass\nFROM pg_catalog.pg_class c, pg_catalog.pg_inherits i\nWHERE c.oid = i.inhparent AND i.inhrelid = '{oid}'\n  AND c.relkind != 't' AND c.relkind != 'c'\nORDER BY inhseqno;",
                     $"SELECT c.oid::pg_catalog.regclass, c.relkind, inhdetachpending, pg_catalog.pg_get_expr(c.relpartbound, c.oid)\nFROM pg_catalog.pg_class c, pg_catalog.pg_inherits i\nWHERE c.oid = i.inhrelid AND i.inhparent = '{oid}'\nORDER BY pg_catalog.pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT', c.oid::pg_catalog.regclass::pg_catalog.text;",
                 })
        {
            var r = Assert.Single(Answer(followUp));
            Assert.Empty(r.Rows);
            Assert.Equal("SELECT 0", r.CommandTag);
        }
        Assert.Equal(6, Assert.Single(Answer(
            $"SELECT pol.polname, pol.polpermissive,\n  CASE WHEN pol.polroles = '{{0}}' THEN NULL ELSE 'x' END,\n  pg_catalog.pg_get_expr(pol.polqual, pol.polrelid),\n  pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid),\n  CASE pol.polcmd WHEN 'r' THEN 'SELECT' END AS cmd\nFROM pg_catalog.pg_policy pol\nWHERE pol.polrelid = '{oid}' ORDER BY 1;")).Columns.Count);
    }

    [Fact]
    public void PsqlDescribeUnknownTable_FindsNothing()
    {
        var r = Assert.Single(Answer(
            "SELECT c.oid,\n  n.nspname,\n  c.relname\nFROM pg_catalog.pg_class c\n     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\nWHERE c.relname OPERATOR(pg_catalog.~) '^(nope)$' COLLATE pg_catalog.default\n  AND pg_catalog.pg_table_is_visible(c.oid)\nORDER BY 2, 3;"));
        Assert.Empty(r.Rows);
        Assert.Equal(3, r.Columns.Count);
    }

    /// <summary>pg_catalog describes each system table with the engine's one schema; the tables the engine builds
    /// (what a SELECT returns) carry exactly those columns.</summary>
    [Fact]
    public async Task EngineTablesCarryTheSchemaTheCatalogDescribes()
    {
        using var session = _engine.OpenSession(ClientAccess.LocalAdministrator);
        foreach (var table in VirtualCatalog.Tables)
        {
            StatementResult? result = null;
            await foreach (var r in session.ExecuteAsync($"SELECT * FROM {table} LIMIT 0")) result = r;
            Assert.Equal(VirtualCatalog.Columns(table), result!.Columns.Select(c => new PgColumn(c.Name, c.Type)).ToList());
        }
    }

    [Fact]
    public void Split_RespectsQuotesAndComments()
    {
        var parts = CatalogSql.Split("SELECT 'a;b' -- c;d\n; SELECT \"x;y\" /* e; */ ;;  SELECT E'\\';' ;");
        Assert.Equal(["SELECT 'a;b'", "SELECT \"x;y\"", "SELECT E'\\';'"], parts);
    }
}
