using Vib3.Core;
using Vib3.Query.Execution;

namespace Vib3.Query.Tests.Execution;

public class SelectEvaluatorTests
{
    private static readonly ColumnDef[] Columns =
    [
        new("id", ColumnType.Int64),
        new("name", ColumnType.Text),
        new("n", ColumnType.Int64),
        new("x", ColumnType.Float64),
        new("b", ColumnType.Bool),
    ];

    private static readonly object?[][] Rows =
    [
        [1L, "alpha", 1L, 1.5, true],
        [2L, "beta", 2L, 2.0, false],
        [3L, "Gamma", 3L, null, null],
        [4L, null, null, 0.5, true],
        [5L, "a_b%c", 5L, 5.0, false],
        [6L, "", 0L, -1.0, true],
    ];

    private static Table? Resolve(Identifier name) =>
        name.Matches("t") ? new Table("t", Columns, Rows)
        : name.Matches("e") ? new Table("e", Columns, [])
        : null;

    private static ResultSet Run(string sql, IReadOnlyList<object?>? parameters = null,
        Func<string, IReadOnlyList<object?>, object?>? functions = null) =>
        SelectEvaluator.Evaluate(Assert.IsType<Select>(Assert.Single(StatementParser.Parse(sql))), Resolve, parameters, functions);

    /// <summary>The "id" column of the result, comma-separated.</summary>
    private static string Ids(ResultSet result)
    {
        int index = result.Columns.Select(c => c.Name).ToList().IndexOf("id");
        Assert.True(index >= 0, "no id column");
        return string.Join(",", result.Rows.Select(r => r[index]));
    }

    private static object? Scalar(string sql, IReadOnlyList<object?>? parameters = null) =>
        Assert.Single(Assert.Single(Run(sql, parameters).Rows));

    private static string Show(object? value) => value switch
    {
        null => "null",
        true => "t",
        false => "f",
        _ => value.ToString()!,
    };

    [Theory]
    [InlineData("n = 2", "2")]
    [InlineData("n <> 2", "1,3,5,6")]
    [InlineData("n != 2", "1,3,5,6")]
    [InlineData("n < 2", "1,6")]
    [InlineData("n <= 2", "1,2,6")]
    [InlineData("n > 2", "3,5")]
    [InlineData("n >= 3", "3,5")]
    [InlineData("2 = n", "2")]
    [InlineData("x = 2", "2")]
    [InlineData("n = 1.0", "1")]
    [InlineData("x > n", "1")]
    [InlineData("x <= 0.5", "4,6")]
    [InlineData("x < -0.5", "6")]
    [InlineData("name = 'beta'", "2")]
    [InlineData("name <> 'beta'", "1,3,5,6")]
    [InlineData("name < 'b'", "1,3,5,6")]
    [InlineData("name > 'B'", "1,2,3,5")]
    [InlineData("name = 'BETA'", "")]
    [InlineData("name = ''", "6")]
    [InlineData("b = true", "1,4,6")]
    [InlineData("b", "1,4,6")]
    [InlineData("b = false", "2,5")]
    [InlineData("b < true", "2,5")]
    [InlineData("b <> false", "1,4,6")]
    [InlineData("NOT b", "2,5")]
    [InlineData("b IS NULL", "3")]
    [InlineData("b IS NOT NULL", "1,2,4,5,6")]
    [InlineData("name IS NULL", "4")]
    [InlineData("x IS NOT NULL", "1,2,4,5,6")]
    [InlineData("NOT (n = 2)", "1,3,5,6")]
    [InlineData("n = NULL", "")]
    [InlineData("n <> NULL", "")]
    [InlineData("NULL = NULL", "")]
    [InlineData("NULL IS NULL", "1,2,3,4,5,6")]
    [InlineData("b OR n = 3", "1,3,4,6")]
    [InlineData("b AND n > 0", "1")]
    [InlineData("NOT (b AND n > 0)", "2,5,6")]
    [InlineData("b IS NULL OR n IS NULL", "3,4")]
    [InlineData("NULL OR TRUE", "1,2,3,4,5,6")]
    [InlineData("NULL AND FALSE", "")]
    [InlineData("NOT NULL", "")]
    [InlineData("(NULL AND TRUE) IS NULL", "1,2,3,4,5,6")]
    [InlineData("name LIKE 'a%'", "1,5")]
    [InlineData("name NOT LIKE 'a%'", "2,3,6")]
    [InlineData("name LIKE '%a'", "1,2,3")]
    [InlineData("name LIKE 'a\\_%'", "5")]
    [InlineData("TRUE", "1,2,3,4,5,6")]
    [InlineData("FALSE", "")]
    public void WhereFiltersWithThreeValuedLogic(string condition, string expected)
    {
        Assert.Equal(expected, Ids(Run($"SELECT id FROM t WHERE {condition}")));
    }

    [Theory]
    [InlineData("TRUE", "TRUE", "t", "t")]
    [InlineData("TRUE", "FALSE", "f", "t")]
    [InlineData("TRUE", "NULL", "null", "t")]
    [InlineData("FALSE", "TRUE", "f", "t")]
    [InlineData("FALSE", "FALSE", "f", "f")]
    [InlineData("FALSE", "NULL", "f", "null")]
    [InlineData("NULL", "TRUE", "null", "t")]
    [InlineData("NULL", "FALSE", "f", "null")]
    [InlineData("NULL", "NULL", "null", "null")]
    public void AndOrTruthTables(string left, string right, string and, string or)
    {
        Assert.Equal(and, Show(Scalar($"SELECT {left} AND {right}")));
        Assert.Equal(or, Show(Scalar($"SELECT {left} OR {right}")));
    }

    [Theory]
    [InlineData("TRUE", "f")]
    [InlineData("FALSE", "t")]
    [InlineData("NULL", "null")]
    public void NotTruthTable(string operand, string expected)
    {
        Assert.Equal(expected, Show(Scalar($"SELECT NOT {operand}")));
    }

    [Theory]
    [InlineData("1 = 1", "t")]
    [InlineData("1 < 1.5", "t")]
    [InlineData("2.0 = 2", "t")]
    [InlineData("-3 < -2.5", "t")]
    [InlineData("9223372036854775807 > 9223372036854775806", "t")]
    [InlineData("'a' < 'b'", "t")]
    [InlineData("'B' < 'a'", "t")]
    [InlineData("'abc' >= 'ab'", "t")]
    [InlineData("'' < 'a'", "t")]
    [InlineData("FALSE < TRUE", "t")]
    [InlineData("TRUE <= FALSE", "f")]
    [InlineData("1 = NULL", "null")]
    [InlineData("NULL <> 'a'", "null")]
    [InlineData("NULL IS NULL", "t")]
    [InlineData("1 IS NULL", "f")]
    [InlineData("1 IS NOT NULL", "t")]
    [InlineData("(1 = NULL) IS NULL", "t")]
    public void ConstantComparisons(string expression, string expected)
    {
        Assert.Equal(expected, Show(Scalar($"SELECT {expression}")));
    }

    [Theory]
    [InlineData("abc", "abc", true)]
    [InlineData("abc", "ABC", false)]
    [InlineData("ABC", "abc", false)]
    [InlineData("abc", "ab", false)]
    [InlineData("abc", "a%", true)]
    [InlineData("abc", "%c", true)]
    [InlineData("abcd", "%c", false)]
    [InlineData("abc", "%b%", true)]
    [InlineData("abc", "%", true)]
    [InlineData("", "%", true)]
    [InlineData("", "%%", true)]
    [InlineData("", "", true)]
    [InlineData("a", "", false)]
    [InlineData("", "_", false)]
    [InlineData("abc", "a_c", true)]
    [InlineData("abc", "a_", false)]
    [InlineData("abc", "___", true)]
    [InlineData("abc", "____", false)]
    [InlineData("abc", "_%_", true)]
    [InlineData("a", "_%_", false)]
    [InlineData("ab", "a%%b", true)]
    [InlineData("abc", "ab%c%", true)]
    [InlineData("aXbXc", "%X%X%", true)]
    [InlineData("aXbc", "%X%X%", false)]
    [InlineData("mississippi", "%iss%ipp%", true)]
    [InlineData("mississippi", "m%ss%ss%i", true)]
    [InlineData("mississippi", "%sip", false)]
    [InlineData("a%c", "a\\%c", true)]
    [InlineData("abc", "a\\%c", false)]
    [InlineData("a_c", "a\\_c", true)]
    [InlineData("abc", "a\\_c", false)]
    [InlineData("a\\c", "a\\\\c", true)]
    [InlineData("abc", "a\\bc", true)]
    [InlineData("100%", "%\\%", true)]
    [InlineData("100", "%\\%", false)]
    [InlineData("\U0001F600x", "_x", true)]
    [InlineData("\U0001F600x", "__x", false)]
    [InlineData("line\nbreak", "line_break", true)]
    public void LikeMatchesLikePostgres(string text, string pattern, bool expected)
    {
        Assert.Equal(expected, Scalar("SELECT $1 LIKE $2", [text, pattern]));
        Assert.Equal(!expected, Scalar("SELECT $1 NOT LIKE $2", [text, pattern]));
    }

    [Theory]
    [InlineData("SELECT NULL LIKE 'a'")]
    [InlineData("SELECT 'a' LIKE NULL")]
    [InlineData("SELECT NULL NOT LIKE '%'")]
    public void LikeWithNullIsNull(string sql)
    {
        Assert.Null(Scalar(sql));
    }

    [Fact]
    public void LikeWithPatternFromAColumn()
    {
        // Each row's name used as its own pattern: '%' in a_b%c still matches, '' matches only ''.
        Assert.Equal("1,2,3,5,6", Ids(Run("SELECT id FROM t WHERE name LIKE name")));
    }

    [Theory]
    [InlineData("SELECT id FROM t ORDER BY n", "6,1,2,3,5,4")]
    [InlineData("SELECT id FROM t ORDER BY n ASC", "6,1,2,3,5,4")]
    [InlineData("SELECT id FROM t ORDER BY n DESC", "4,5,3,2,1,6")]
    [InlineData("SELECT id FROM t ORDER BY x", "6,4,1,2,5,3")]
    [InlineData("SELECT id FROM t ORDER BY x DESC", "3,5,2,1,4,6")]
    [InlineData("SELECT id FROM t ORDER BY name", "6,3,5,1,2,4")]
    [InlineData("SELECT id FROM t ORDER BY name DESC", "4,2,1,5,3,6")]
    [InlineData("SELECT id FROM t ORDER BY b", "2,5,1,4,6,3")]
    [InlineData("SELECT id FROM t ORDER BY b DESC", "3,1,4,6,2,5")]
    [InlineData("SELECT id FROM t ORDER BY b, id DESC", "5,2,6,4,1,3")]
    [InlineData("SELECT id FROM t ORDER BY b DESC, id", "3,1,4,6,2,5")]
    [InlineData("SELECT id FROM t ORDER BY b DESC, id DESC", "3,6,4,1,5,2")]
    [InlineData("SELECT id, n AS k FROM t ORDER BY k DESC", "4,5,3,2,1,6")]
    [InlineData("SELECT name, id FROM t ORDER BY 2 DESC", "6,5,4,3,2,1")]
    [InlineData("SELECT id, x FROM t ORDER BY 2", "6,4,1,2,5,3")]
    [InlineData("SELECT * FROM t ORDER BY 1 DESC", "6,5,4,3,2,1")]
    [InlineData("SELECT * FROM t ORDER BY 5, 3 DESC", "5,2,4,1,6,3")]
    [InlineData("SELECT id FROM t ORDER BY n IS NULL DESC, id", "4,1,2,3,5,6")]
    [InlineData("SELECT id FROM t ORDER BY n LIMIT 2", "6,1")]
    [InlineData("SELECT id FROM t ORDER BY n DESC LIMIT 1", "4")]
    [InlineData("SELECT id FROM t ORDER BY n LIMIT 0", "")]
    [InlineData("SELECT id FROM t LIMIT 0", "")]
    [InlineData("SELECT id FROM t LIMIT 3", "1,2,3")]
    [InlineData("SELECT id FROM t LIMIT 100", "1,2,3,4,5,6")]
    [InlineData("SELECT id FROM t WHERE b ORDER BY x DESC LIMIT 2", "1,4")]
    [InlineData("SELECT id FROM t ORDER BY ID DESC", "6,5,4,3,2,1")]
    public void OrderByAndLimit(string sql, string expected)
    {
        Assert.Equal(expected, Ids(Run(sql)));
    }

    [Fact]
    public void OrderByAliasWinsOverInputColumn()
    {
        // Postgres's rule: a bare ORDER BY name is an output column first; here "n" is the id.
        Assert.Equal([6L, 5L, 4L, 3L, 2L, 1L], Run("SELECT id AS n, x FROM t ORDER BY n DESC").Rows.Select(r => r[0]));
        // Same expression twice under one name is not ambiguous.
        Assert.Equal([6L, 5L, 4L, 3L, 2L, 1L], Run("SELECT id AS k, id AS k FROM t ORDER BY k DESC").Rows.Select(r => r[0]));
    }

    [Fact]
    public void StarExpandsToAllColumns()
    {
        ResultSet result = Run("SELECT * FROM t");
        Assert.Equal(Columns, result.Columns);
        Assert.Equal(Rows, result.Rows);

        ResultSet twice = Run("SELECT *, id AS again FROM t LIMIT 1");
        Assert.Equal(["id", "name", "n", "x", "b", "again"], twice.Columns.Select(c => c.Name));
        Assert.Equal([1L, "alpha", 1L, 1.5, true, 1L], twice.Rows[0]);
    }

    [Fact]
    public void SelectListNamesAndTypes()
    {
        ResultSet result = Run("SELECT ID, 1, 'a' AS s, 2.5, TRUE, NULL, n = 1 AS \"Is One\", name FROM t LIMIT 1");
        Assert.Equal(
            [
                new ColumnDef("id", ColumnType.Int64), // the table's spelling, not the query's
                new ColumnDef("?column?", ColumnType.Int64),
                new ColumnDef("s", ColumnType.Text),
                new ColumnDef("?column?", ColumnType.Float64),
                new ColumnDef("?column?", ColumnType.Bool),
                new ColumnDef("?column?", ColumnType.Text),
                new ColumnDef("Is One", ColumnType.Bool),
                new ColumnDef("name", ColumnType.Text),
            ],
            result.Columns);
        Assert.Equal([1L, 1L, "a", 2.5, true, null, true, "alpha"], Assert.Single(result.Rows));
    }

    [Fact]
    public void EmptyTableGivesColumnsAndNoRows()
    {
        ResultSet result = Run("SELECT *, NULL AS z FROM e WHERE n > 1 ORDER BY 1");
        Assert.Equal([.. Columns.Select(c => c.Name), "z"], result.Columns.Select(c => c.Name));
        Assert.Equal(ColumnType.Text, result.Columns[^1].Type);
        Assert.Empty(result.Rows);
    }

    [Theory]
    [InlineData("SELECT 1", 1)]
    [InlineData("SELECT 1 WHERE TRUE", 1)]
    [InlineData("SELECT 1 WHERE FALSE", 0)]
    [InlineData("SELECT 1 WHERE NULL", 0)]
    [InlineData("SELECT 1 LIMIT 0", 0)]
    [InlineData("SELECT 1 ORDER BY 1", 1)]
    public void SelectWithoutFromHasOneRow(string sql, int rows)
    {
        Assert.Equal(rows, Run(sql).Rows.Count);
    }

    [Fact]
    public void ParametersBindTypedValues()
    {
        ResultSet result = Run("SELECT $1, $2, $3, $4, $5, $6", ["s", 7, 2.5f, true, null, 3L]);
        Assert.Equal([ColumnType.Text, ColumnType.Int64, ColumnType.Float64, ColumnType.Bool, ColumnType.Text, ColumnType.Int64],
            result.Columns.Select(c => c.Type));
        Assert.Equal(["s", 7L, 2.5, true, null, 3L], Assert.Single(result.Rows));

        Assert.Equal("2,3", Ids(Run("SELECT id FROM t WHERE n = $1 OR name = $2", [3, "beta"])));
        Assert.Equal("", Ids(Run("SELECT id FROM t WHERE n = $1", [null])));
        Assert.Equal("4,6", Ids(Run("SELECT id FROM t WHERE x < $1", [1.5m])));
        Assert.Equal("5", Ids(Run("SELECT id FROM t WHERE name LIKE $1", ["%\\%%"])));
        Assert.Equal("1", Ids(Run("SELECT id FROM t WHERE id = $2", ["unused", 1])));
    }

    [Fact]
    public void FunctionsWithoutTables()
    {
        var calls = new List<string>();
        object? Functions(string name, IReadOnlyList<object?> args)
        {
            calls.Add(name);
            return name switch
            {
                "version" when args.Count == 0 => "vib3 0.1",
                "upper" when args is [string s] => s.ToUpperInvariant(),
                "upper" when args is [null] => null,
                "answer" => 42,
                _ => SelectEvaluator.UnknownFunction,
            };
        }

        ResultSet version = Run("SELECT version()", functions: Functions);
        Assert.Equal([new ColumnDef("version", ColumnType.Text)], version.Columns);
        Assert.Equal("vib3 0.1", Assert.Single(Assert.Single(version.Rows)));

        ResultSet aliased = Run("SELECT VERSION() AS v, answer()", functions: Functions);
        Assert.Equal([new ColumnDef("v", ColumnType.Text), new ColumnDef("answer", ColumnType.Int64)], aliased.Columns);
        Assert.Equal(["vib3 0.1", 42L], Assert.Single(aliased.Rows));

        // A constant call is made once, however many rows there are.
        calls.Clear();
        Assert.Equal(6, Run("SELECT version() FROM t", functions: Functions).Rows.Count);
        Assert.Equal(["version"], calls);

        // Calls over columns run per row; their type comes from the values.
        ResultSet upper = Run("SELECT upper(name) AS u FROM t WHERE upper(name) LIKE 'A%' ORDER BY upper(name) DESC", functions: Functions);
        Assert.Equal([new ColumnDef("u", ColumnType.Text)], upper.Columns);
        Assert.Equal(["A_B%C", "ALPHA"], upper.Rows.Select(r => r[0]));
    }

    [Theory]
    [InlineData("SELECT * FROM nope", "42P01", "relation \"nope\" does not exist at line 1:15")]
    [InlineData("SELECT * FROM \"T\"", "42P01", "relation \"T\" does not exist at line 1:15")]
    [InlineData("SELECT nope FROM t", "42703", "column \"nope\" does not exist at line 1:8")]
    [InlineData("SELECT \"ID\" FROM t", "42703", "column \"ID\" does not exist at line 1:8")]
    [InlineData("SELECT id FROM t WHERE\n  zz = 1", "42703", "column \"zz\" does not exist at line 2:3")]
    [InlineData("SELECT id FROM t ORDER BY zz", "42703", "column \"zz\" does not exist at line 1:27")]
    [InlineData("SELECT id", "42703", "column \"id\" does not exist at line 1:8")]
    [InlineData("SELECT id FROM t ORDER BY 2", "42P10", "ORDER BY position 2 is not in select list at line 1:27")]
    [InlineData("SELECT id FROM t ORDER BY 0", "42P10", "ORDER BY position 0 is not in select list")]
    [InlineData("SELECT id FROM t ORDER BY -1", "42P10", "ORDER BY position -1 is not in select list")]
    [InlineData("SELECT id FROM t ORDER BY 'id'", "42601", "non-integer constant in ORDER BY at line 1:27")]
    [InlineData("SELECT id AS k, n AS k FROM t ORDER BY k", "42702", "ORDER BY \"k\" is ambiguous at line 1:40")]
    [InlineData("SELECT *", "42601", "SELECT * with no tables specified is not valid at line 1:8")]
    [InlineData("SELECT id FROM t WHERE name = 1", "42804", "cannot compare text with bigint (operator =) at line 1:24")]
    [InlineData("SELECT id FROM t WHERE b < 1.5", "42804", "cannot compare boolean with double precision (operator <)")]
    [InlineData("SELECT id FROM t WHERE 'a' <> TRUE", "42804", "cannot compare text with boolean (operator <>)")]
    [InlineData("SELECT id FROM e WHERE name = 1", "42804", "cannot compare text with bigint")]
    [InlineData("SELECT id FROM t WHERE n LIKE 'a'", "42804", "LIKE needs text operands, not bigint LIKE text at line 1:24")]
    [InlineData("SELECT id FROM t WHERE name NOT LIKE 1", "42804", "NOT LIKE needs text operands, not text NOT LIKE bigint")]
    [InlineData("SELECT id FROM t WHERE n", "42804", "argument of WHERE must be type boolean, not type bigint at line 1:24")]
    [InlineData("SELECT id FROM e WHERE name", "42804", "argument of WHERE must be type boolean, not type text")]
    [InlineData("SELECT id FROM t WHERE NOT name", "42804", "argument of NOT must be type boolean, not type text at line 1:28")]
    [InlineData("SELECT id FROM t WHERE b AND 1", "42804", "argument of AND must be type boolean, not type bigint at line 1:30")]
    [InlineData("SELECT id FROM t WHERE x OR b", "42804", "argument of OR must be type boolean, not type double precision at line 1:24")]
    [InlineData("SELECT $1", "22023", "there is no parameter $1 at line 1:8")]
    [InlineData("SELECT version()", "42883", "function version() does not exist at line 1:8")]
    [InlineData("SELECT 'a' LIKE 'a\\'", "22025", "LIKE pattern must not end with escape character at line 1:17")]
    public void ErrorsCarrySqlStateAndPosition(string sql, string sqlState, string message)
    {
        var error = Assert.Throws<Vib3Exception>(() => Run(sql));
        Assert.Equal(sqlState, error.SqlState);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FunctionAndParameterErrors()
    {
        object? OnlyVersion(string name, IReadOnlyList<object?> args) => name == "version" ? "v" : SelectEvaluator.UnknownFunction;

        var unknown = Assert.Throws<Vib3Exception>(() => Run("SELECT nope(1, 'a')", functions: OnlyVersion));
        Assert.Equal("42883", unknown.SqlState);
        Assert.Contains("function nope(bigint, text) does not exist at line 1:8", unknown.Message, StringComparison.Ordinal);

        // Unknown even when the table is empty: constant calls are made before any row is read.
        Assert.Equal("42883", Assert.Throws<Vib3Exception>(() => Run("SELECT nope() FROM e", functions: OnlyVersion)).SqlState);

        var missing = Assert.Throws<Vib3Exception>(() => Run("SELECT $1, $2", [1]));
        Assert.Equal("22023", missing.SqlState);
        Assert.Contains("there is no parameter $2 at line 1:12", missing.Message, StringComparison.Ordinal);

        var unsupported = Assert.Throws<Vib3Exception>(() => Run("SELECT $1", [Guid.Empty]));
        Assert.Equal("22023", unsupported.SqlState);

        // A parameter's type is its value's: text = bigint is a mismatch.
        Assert.Equal("42804", Assert.Throws<Vib3Exception>(() => Run("SELECT id FROM t WHERE n = $1", ["3"])).SqlState);
    }

    [Fact]
    public void BadTableRowsAreInternalErrors()
    {
        Table Bad(Identifier _) => new("bad", [new ColumnDef("a", ColumnType.Int64)], [["text"]]);
        Table Short(Identifier _) => new("short", [new ColumnDef("a", ColumnType.Int64), new ColumnDef("b", ColumnType.Text)], [[1L]]);
        Table Widened(Identifier _) => new("w", [new ColumnDef("a", ColumnType.Int64), new ColumnDef("f", ColumnType.Float64)], [[7, 1.5f]]);
        Select select = Assert.IsType<Select>(Assert.Single(StatementParser.Parse("SELECT * FROM x")));

        Assert.Equal(SqlState.InternalError, Assert.Throws<Vib3Exception>(() => SelectEvaluator.Evaluate(select, Bad)).SqlState);
        Assert.Equal(SqlState.InternalError, Assert.Throws<Vib3Exception>(() => SelectEvaluator.Evaluate(select, Short)).SqlState);
        Assert.Equal([7L, 1.5], Assert.Single(SelectEvaluator.Evaluate(select, Widened).Rows));
    }
}
