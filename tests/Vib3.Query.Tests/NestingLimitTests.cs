using System.Text;
using Vib3.Core;
using Vib3.Query.Execution;

namespace Vib3.Query.Tests;

/// <summary>
/// Expressions nest at most <see cref="NestingLimit.MaxExpressionDepth"/> levels, whatever makes the nesting (prefix
/// operators, parentheses, calls, left-deep operator chains); beyond it a statement fails with one 54001 line, and at
/// it parsing and evaluation work on any thread. Before the limit every "beyond" case here overflowed the stack,
/// which kills the test host: the failure before was a crash.
/// </summary>
public sealed class NestingLimitTests
{
    private const int Limit = NestingLimit.MaxExpressionDepth;

    /// <summary>A way of nesting: a prefix and suffix around the inner level, or an operator chained after a leaf.</summary>
    private sealed record Shape(string Name, string Prefix, string Suffix, string Operator, string Leaf, bool Evaluates);

    private static readonly Shape[] Shapes =
    [
        new("not", "NOT ", "", "", "TRUE", true),
        new("parentheses", "(", ")", "", "TRUE", true),
        new("calls", "f(", ")", "", "TRUE", true),
        new("or", "", "", " OR TRUE", "TRUE", true),
        new("and", "", "", " AND TRUE", "TRUE", true),
        new("equals", "", "", " = TRUE", "TRUE", true),
        new("is-not-null", "", "", " IS NOT NULL", "1", true),
        new("like", "", "", " LIKE 'a'", "'a'", false), // parses; binding refuses boolean LIKE text
    ];

    public static TheoryData<string> ShapeNames => new(Shapes.Select(s => s.Name));

    /// <summary>"SELECT " and an expression <paramref name="levels"/> deep, with the 0-based offset where level
    /// <see cref="Limit"/> + 1 starts: the inner expression, or for a chain the operator that nests too deep.</summary>
    private static (string Sql, int TooDeepAt) Nested(Shape shape, int levels)
    {
        var sql = new StringBuilder("SELECT ");
        int tooDeepAt = -1;
        if (shape.Operator.Length == 0)
        {
            for (int level = 1; level < levels; level++)
            {
                if (level == Limit + 1) tooDeepAt = sql.Length;
                sql.Append(shape.Prefix);
            }
            if (levels == Limit + 1) tooDeepAt = sql.Length;
            sql.Append(shape.Leaf);
            for (int level = 1; level < levels; level++) sql.Append(shape.Suffix);
        }
        else
        {
            sql.Append(shape.Leaf);
            for (int op = 1; op < levels; op++)
            {
                if (op == Limit) tooDeepAt = sql.Length + 1; // past the space before the operator
                sql.Append(shape.Operator);
            }
        }
        return (sql.ToString(), tooDeepAt);
    }

    private static Shape Named(string name) => Shapes.Single(s => s.Name == name);

    private static ResultSet Evaluate(Statement statement) =>
        SelectEvaluator.Evaluate((Select)statement, _ => null, functions: (_, arguments) => arguments[0]);

    [Theory]
    [MemberData(nameof(ShapeNames))]
    public async Task At_the_limit_a_statement_parses_and_evaluates_on_a_thread_pool_thread(string name)
    {
        Shape shape = Named(name);
        (string sql, _) = Nested(shape, Limit);
        Statement statement = Assert.Single(await Task.Run(() => StatementParser.Parse(sql)));
        if (shape.Evaluates)
        {
            ResultSet result = await Task.Run(() => Evaluate(statement));
            // Only the NOT chains flip: Limit - 1 NOTs (or NOT (s)) around TRUE.
            bool expected = !shape.Prefix.StartsWith("NOT", StringComparison.Ordinal) || (Limit - 1) % 2 == 0;
            Assert.Equal(expected, Assert.Single(result.Rows)[0]);
        }
    }

    [Theory]
    [MemberData(nameof(ShapeNames))]
    public void One_level_beyond_the_limit_is_54001_at_the_level_that_is_too_deep(string name)
    {
        (string sql, int tooDeepAt) = Nested(Named(name), Limit + 1);
        var error = Assert.Throws<Vib3Exception>(() => StatementParser.Parse(sql));
        Assert.Equal(SqlState.StatementTooComplex, error.SqlState);
        Assert.Equal($"statement too complex at line 1:{tooDeepAt + 1}: expressions nest deeper than {Limit} levels", error.Message);
    }

    [Theory]
    [InlineData("not", 6_000)] // psql's statement in the report
    [InlineData("not", 100_000)] // the Parse message in the report
    [InlineData("parentheses", 4_000)]
    [InlineData("not", 10_000)]
    [InlineData("and", 10_000)]
    [InlineData("equals", 10_000)]
    [InlineData("is-not-null", 10_000)]
    [InlineData("calls", 10_000)]
    public async Task The_reported_statements_are_one_54001_line_on_a_thread_pool_thread(string name, int levels)
    {
        (string sql, _) = Nested(Named(name), levels);
        var error = await Assert.ThrowsAsync<Vib3Exception>(() => Task.Run(() => StatementParser.Parse(sql)));
        Assert.Equal(SqlState.StatementTooComplex, error.SqlState);
        Assert.Matches($"^statement too complex at line 1:[0-9]+: expressions nest deeper than {Limit} levels$", error.Message);
    }

    [Fact]
    public void Nesting_counts_the_deepest_path_across_chains_parentheses_and_calls()
    {
        // A chain of 500 ORs whose first operand is 499 NOTs around TRUE: 500 + 500 levels on that path.
        string deep = "SELECT " + string.Concat(Enumerable.Repeat("NOT ", 499)) + "TRUE" + string.Concat(Enumerable.Repeat(" OR TRUE", 500));
        Assert.Single(StatementParser.Parse(deep));
        Assert.Equal(SqlState.StatementTooComplex,
            Assert.Throws<Vib3Exception>(() => StatementParser.Parse(deep.Replace("SELECT ", "SELECT NOT ", StringComparison.Ordinal))).SqlState);
        // The same operands the other way round are only 501 deep: a left-deep chain's last operand sits near the top.
        Assert.Single(StatementParser.Parse("SELECT " + string.Concat(Enumerable.Repeat("TRUE OR ", 500)) + string.Concat(Enumerable.Repeat("NOT ", 499)) + "TRUE"));
        // A chain as the left operand of another: the inner chain's levels add to the outer one's.
        string chains = "SELECT (" + "TRUE" + string.Concat(Enumerable.Repeat(" AND TRUE", 500)) + ")" + string.Concat(Enumerable.Repeat(" OR TRUE", 498));
        Assert.Single(StatementParser.Parse(chains)); // 498 + 1 (parentheses) + 501
        Assert.Equal(SqlState.StatementTooComplex,
            Assert.Throws<Vib3Exception>(() => StatementParser.Parse(chains + " OR TRUE")).SqlState);
        // Many shallow siblings are not deep: 5,000 arguments and 5,000 select items of depth 2.
        string wide = "SELECT f(" + string.Join(", ", Enumerable.Repeat("NOT TRUE", 5_000)) + "), " + string.Join(", ", Enumerable.Repeat("(1)", 5_000));
        Assert.Equal(5_001, Assert.IsType<Select>(Assert.Single(StatementParser.Parse(wide))).Items.Count);
    }

    [Fact]
    public void A_thread_with_a_small_stack_can_parse_and_evaluate_at_the_limit()
    {
        // 1,000 nested calls need megabytes of stack to parse and bind; the caller here has 512 KiB.
        (string sql, _) = Nested(Named("calls"), Limit);
        object? value = null;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try { value = Assert.Single(Evaluate(Assert.Single(StatementParser.Parse(sql))).Rows)[0]; }
            catch (Exception e) { failure = e; }
        }, 512 * 1024);
        thread.Start();
        Assert.True(thread.Join(TimeSpan.FromSeconds(30)), "parsing did not finish in 30 s");
        Assert.Null(failure);
        Assert.Equal(true, value);
    }
}
