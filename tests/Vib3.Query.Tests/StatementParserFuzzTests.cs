using System.Text;
using Vib3.Core;
using Vib3.Query.Execution;

namespace Vib3.Query.Tests;

/// <summary>
/// Seeded random statements for the parser (a failure reproduces from its seed): every input either parses or fails
/// with a <see cref="Vib3Exception"/> carrying a SQLSTATE and a one-line message, and nothing else escapes. Random
/// expressions, whose nesting depth the generator knows, parse exactly when they are within
/// <see cref="NestingLimit.MaxExpressionDepth"/>. A few thousand cases in a few seconds.
/// </summary>
public sealed class StatementParserFuzzTests
{
    private const int Limit = NestingLimit.MaxExpressionDepth;

    private static readonly string[] Leaves = ["TRUE", "FALSE", "NULL", "1", "-2", "3.5", "'x'", "$$y$$", "$1", "a", "\"b\"", "n"];
    private static readonly string[] Comparisons = [" = ", " <> ", " != ", " < ", " <= ", " > ", " >= "];
    private static readonly string[] ChainOperators = [" AND ", " OR ", " LIKE ", " NOT LIKE ", "comparison", " IS NULL", " IS NOT NULL"];

    private static readonly Table T = new("t",
        [new ColumnDef("a", ColumnType.Bool), new ColumnDef("b", ColumnType.Text), new ColumnDef("n", ColumnType.Int64)],
        [[true, "x", 1L], [false, "y", 2L], [null, null, null]]);

    /// <summary>An expression as text, how deep it nests, and whether it is a primary (a leaf, (e) or f(...)), which
    /// can be an operand anywhere without changing how the text around it parses.</summary>
    private sealed record Expr(string Text, int Depth, bool IsPrimary, bool IsNot = false);

    private static Expr Leaf(Random rng) => new(Leaves[rng.Next(Leaves.Length)], 1, true);

    private static Expr Primary(Random rng, int budget)
    {
        if (budget <= 1 || rng.Next(3) == 0) return Leaf(rng);
        if (rng.Next(2) == 0)
        {
            Expr inner = Any(rng, budget - 1);
            return new($"({inner.Text})", inner.Depth + 1, true);
        }
        Expr[] args = Enumerable.Range(0, rng.Next(4)).Select(_ => Any(rng, budget - 1)).ToArray();
        return new($"f({string.Join(", ", args.Select(a => a.Text))})", 1 + args.Select(a => a.Depth).DefaultIfEmpty(0).Max(), true);
    }

    /// <summary>Any expression at most <paramref name="budget"/> levels deep.</summary>
    private static Expr Any(Random rng, int budget)
    {
        switch (budget <= 1 ? 0 : rng.Next(4))
        {
            case 0:
                return Primary(rng, budget);
            case 1:
            {
                Expr operand = rng.Next(3) == 0 ? Any(rng, budget - 1) : Primary(rng, budget - 1);
                return operand.IsPrimary || operand.IsNot
                    ? new($"NOT {operand.Text}", operand.Depth + 1, false, IsNot: true)
                    : new($"NOT ({operand.Text})", operand.Depth + 2, false, IsNot: true);
            }
            default:
                return Chain(rng, budget);
        }
    }

    /// <summary>k operators of one precedence after a first operand: a left-deep tree, where operand j (0-based,
    /// j ≥ 1) sits k - j + 1 levels down and the first operand k levels down.</summary>
    private static Expr Chain(Random rng, int budget)
    {
        int k = 1 + rng.Next(Math.Min(4, budget - 1));
        string op = ChainOperators[rng.Next(ChainOperators.Length)];
        Expr first = Primary(rng, budget - k);
        var text = new StringBuilder(first.Text);
        int depth = k + first.Depth;
        for (int j = 1; j <= k; j++)
        {
            if (op.StartsWith(" IS", StringComparison.Ordinal))
            {
                text.Append(op);
                continue;
            }
            Expr operand = Primary(rng, budget - (k - j + 1));
            text.Append(op == "comparison" ? Comparisons[rng.Next(Comparisons.Length)] : op).Append(operand.Text);
            depth = Math.Max(depth, k - j + 1 + operand.Depth);
        }
        return new(text.ToString(), depth, false);
    }

    /// <summary>An expression exactly <paramref name="target"/> levels deep, by wrapping a leaf at random.</summary>
    private static Expr Deep(Random rng, int target)
    {
        Expr e = Leaf(rng);
        while (e.Depth < target)
        {
            int room = target - e.Depth;
            if (!e.IsPrimary && !(e.IsNot && rng.Next(2) == 0))
            {
                e = new($"({e.Text})", e.Depth + 1, true);
                continue;
            }
            switch (rng.Next(5))
            {
                case 0:
                    e = new($"({e.Text})", e.Depth + 1, true);
                    break;
                case 1:
                    e = new($"f({Leaf(rng).Text}, {e.Text})", e.Depth + 1, true);
                    break;
                case 2:
                    e = new($"NOT {e.Text}", e.Depth + 1, false, IsNot: true);
                    break;
                case 3 when e.IsPrimary: // e first in a chain of k: k levels
                    int k = 1 + rng.Next(Math.Min(room, 50));
                    string op = rng.Next(2) == 0 ? " OR TRUE" : " IS NOT NULL";
                    e = new(e.Text + string.Concat(Enumerable.Repeat(op, k)), e.Depth + k, false);
                    break;
                case 4 when e.IsPrimary: // e last in a chain: one level
                    e = new($"1 = {e.Text}", e.Depth + 1, false);
                    break;
            }
        }
        return e;
    }

    private static (string Sql, int Depth) RandomSelect(Random rng, Func<Random, Expr> expression)
    {
        Expr[] items = Enumerable.Range(0, 1 + rng.Next(3)).Select(_ => expression(rng)).ToArray();
        var sql = new StringBuilder("SELECT ").Append(string.Join(", ", items.Select(i => i.Text)));
        int depth = items.Max(i => i.Depth);
        if (rng.Next(2) == 0) sql.Append(" FROM t");
        if (rng.Next(2) == 0)
        {
            Expr where = expression(rng);
            sql.Append(" WHERE ").Append(where.Text);
            depth = Math.Max(depth, where.Depth);
        }
        if (rng.Next(3) == 0)
        {
            Expr order = expression(rng);
            sql.Append(" ORDER BY ").Append(order.Text).Append(rng.Next(2) == 0 ? " DESC" : "");
            depth = Math.Max(depth, order.Depth);
        }
        if (rng.Next(3) == 0) sql.Append(" LIMIT ").Append(rng.Next(5));
        return (sql.ToString(), depth);
    }

    /// <summary>What a statement does: parses (and, for a SELECT, evaluates over t) or fails with a SQLSTATE.</summary>
    private static string? Outcome(string sql)
    {
        try
        {
            foreach (Statement statement in StatementParser.Parse(sql))
            {
                if (statement is Select select)
                {
                    SelectEvaluator.Evaluate(select, id => id.Matches("t") ? T : null, ["p"], (name, args) => args.Count > 0 ? args[0] : name);
                }
            }
            return null;
        }
        catch (Vib3Exception e)
        {
            Assert.Matches("^[0-9A-Z]{5}$", e.SqlState);
            Assert.False(string.IsNullOrWhiteSpace(e.Message) || e.Message.Contains('\n'), $"{sql}: not one line: {e.Message}");
            return e.SqlState;
        }
    }

    private static string StatementTooComplex(string sql)
    {
        try
        {
            StatementParser.Parse(sql);
            return "parsed";
        }
        catch (Vib3Exception e)
        {
            return e.SqlState;
        }
    }

    [Fact]
    public void Random_expressions_within_the_limit_parse_and_evaluate_or_fail_with_a_sqlstate()
    {
        var rng = new Random(16_001);
        for (int i = 0; i < 1_500; i++)
        {
            (string sql, _) = RandomSelect(rng, r => Any(r, 1 + r.Next(12)));
            var parsed = Assert.Single(StatementParser.Parse(sql)); // well-formed by construction
            Assert.IsType<Select>(parsed);
            Outcome(sql);
        }
    }

    [Fact]
    public void Random_deep_expressions_parse_exactly_when_they_nest_within_the_limit()
    {
        var rng = new Random(16_002);
        for (int i = 0; i < 10; i++)
        {
            int target = Limit - 2 + rng.Next(5); // Limit - 2 .. Limit + 2
            int expressions = 0; // the first expression is the deep one
            (string sql, int depth) = RandomSelect(rng, r => expressions++ == 0 ? Deep(r, target) : Any(r, 4));
            Assert.True(depth == target, $"generator: {depth} != {target}");
            Assert.Equal(depth <= Limit ? "parsed" : SqlState.StatementTooComplex, StatementTooComplex(sql));
        }
    }

    private static readonly string[] Tokens =
    [
        "SELECT", "FROM", "WHERE", "ORDER", "BY", "LIMIT", "GENERATE", "CHAT", "EXPLAIN", "ANALYZE", "SHOW", "SET", "RESET",
        "CREATE", "DROP", "MODEL", "INDEX", "ON", "WITH", "USING", "RETRIEVAL", "K", "EF", "MAX_TOKENS", "TEMPERATURE",
        "TOP_P", "STOP", "STREAM", "NOT", "AND", "OR", "IS", "NULL", "LIKE", "TRUE", "FALSE", "AS", "(", ")", ",", ";",
        "=", "<>", "<", ">=", "-", "*", "1", "99999999999999999999", "1.5", ".", "$1", "$0", "$99999999999", "'s'", "'",
        "$$", "$t$x$t$", "\"q\"", "\"", "--c\n", "/*", "*/", "x", "f", "\u00e9", "\ud83d\ude00", "\0", "\t", "\\", "@",
    ];

    private static readonly string[] Valid =
    [
        "SELECT a, b FROM t WHERE n >= 1 AND b LIKE 'x%' ORDER BY 2 DESC LIMIT 3",
        "GENERATE 'hi' FROM MODEL m USING RETRIEVAL K = 4 EF = 8 MAX_TOKENS 5 TEMPERATURE 0.5 STOP 'x', $1 STREAM",
        "GENERATE CHAT (('system', 'be brief'), ('user', $1)) SEED 3",
        "EXPLAIN ANALYZE GENERATE $$p$$ TOP_P 0.9 TOP_K 4 MIN_P 0.1",
        "CREATE MODEL m FROM '/x' WITH (dtype = 'f16', page_rows = 64, index = 'svd_gate')",
        "CREATE INDEX ON MODEL m WITH (keys = 'gate_up', metric = 'ip', m = 16, ef_construction = 200)",
        "DROP INDEX IF EXISTS ON MODEL m; DROP MODEL IF EXISTS m", "SHOW EXPERTS FROM m LAYER 1", "SET x TO -1.5; RESET ALL",
        "SELECT f(NOT (a IS NOT NULL), -3.5) AS c FROM t WHERE NOT a OR n <> $1",
    ];

    [Fact]
    public void Garbage_and_mutated_statements_parse_or_fail_with_a_sqlstate()
    {
        var rng = new Random(16_003);
        var states = new HashSet<string?>();
        for (int i = 0; i < 3_000; i++)
        {
            string sql = (i % 3) switch
            {
                0 => string.Join(rng.Next(4) == 0 ? "" : " ", Enumerable.Range(0, 1 + rng.Next(25)).Select(_ => Tokens[rng.Next(Tokens.Length)])),
                1 => Mutate(rng, Valid[rng.Next(Valid.Length)]),
                // Runs of one nesting token, closed or not, with garbage; now and then around the limit.
                _ => Mutate(rng, "SELECT " + string.Concat(Enumerable.Repeat(rng.Next(3) switch { 0 => "(", 1 => "NOT ", _ => "f(" },
                    rng.Next(50) == 0 ? Limit - 10 + rng.Next(20) : rng.Next(40))) + Tokens[rng.Next(Tokens.Length)]),
            };
            states.Add(Outcome(sql));
        }
        // The inputs reached the parser's successes as well as its syntax, value and depth errors.
        Assert.Contains(null, states);
        Assert.Contains(SqlState.SyntaxError, states);
        Assert.Contains(SqlState.StatementTooComplex, states);
    }

    /// <summary>Up to four random edits: delete, duplicate or replace a span, or insert a token.</summary>
    private static string Mutate(Random rng, string text)
    {
        var s = new StringBuilder(text);
        for (int edits = rng.Next(5); edits > 0 && s.Length > 0; edits--)
        {
            int at = rng.Next(s.Length);
            int length = Math.Min(1 + rng.Next(8), s.Length - at);
            switch (rng.Next(4))
            {
                case 0: s.Remove(at, length); break;
                case 1: s.Insert(at, s.ToString(at, length)); break;
                case 2: s.Remove(at, length).Insert(at, Tokens[rng.Next(Tokens.Length)]); break;
                default: s.Insert(at, " " + Tokens[rng.Next(Tokens.Length)] + " "); break;
            }
        }
        return s.ToString();
    }
}
