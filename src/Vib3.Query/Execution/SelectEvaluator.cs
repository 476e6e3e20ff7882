using Vib3.Core;

namespace Vib3.Query.Execution;

/// <summary>
/// Evaluates a <see cref="Select"/> over in-memory <see cref="Table"/>s (the system tables), with no catalog access.
/// </summary>
/// <remarks>
/// Semantics follow Postgres where they overlap: three-valued logic (a WHERE that is not true drops the row);
/// numbers compare across bigint and double precision, text compares ordinally (the C collation), booleans
/// false &lt; true; LIKE is case-sensitive with <c>%</c>, <c>_</c> and backslash escapes; ORDER BY takes output
/// names (aliases), output positions or expressions over the table's columns, sorts stably, NULLs last when
/// ascending and first when descending; LIMIT applies after ORDER BY. Types are checked before any row is
/// read, so a bad query fails the same way on an empty table. Errors carry "at line L:C" of the offending node.
/// </remarks>
public static class SelectEvaluator
{
    public const string UndefinedColumn = "42703";
    public const string AmbiguousColumn = "42702";
    public const string UndefinedFunction = "42883";
    public const string InvalidColumnReference = "42P10";

    /// <summary>
    /// What a <c>functions</c> callback returns for a name it does not know; the evaluator then reports
    /// 42883 "function f() does not exist".
    /// </summary>
    public static readonly object UnknownFunction = new();

    /// <summary>Evaluates <paramref name="select"/>.</summary>
    /// <param name="resolveTable">The table a FROM name refers to, or null when there is none.</param>
    /// <param name="parameters">Values of <c>$1</c>, <c>$2</c>, ... (string, integers, floating point, bool or null).</param>
    /// <param name="functions">
    /// Called as (name, argument values) for <c>name(args)</c>; the name is lower-cased unless it was quoted.
    /// Returns the value or <see cref="UnknownFunction"/>. Calls whose arguments are all constants
    /// (e.g. <c>version()</c>) are made once, before any row is read. Null: no function exists.
    /// </param>
    /// <exception cref="Vib3Exception">
    /// 42P01 unknown table; 42703 unknown column; 42702 ambiguous column; 42883 unknown function;
    /// 42804 type mismatch; 42P10 ORDER BY position out of range; 42601 <c>SELECT *</c> without FROM or a
    /// non-integer constant in ORDER BY; 22023 missing parameter; 22025 LIKE pattern ending in a backslash.
    /// </exception>
    /// <remarks>Binding and evaluation recurse once per expression level; a select deeper than
    /// <see cref="InlineMaxDepth"/> is evaluated on a thread whose stack holds <see cref="NestingLimit.MaxExpressionDepth"/>
    /// levels (<see cref="LargeStack"/>), so a query the parser accepts never exhausts the caller's stack.</remarks>
    public static ResultSet Evaluate(
        Select select,
        Func<Identifier, Table?> resolveTable,
        IReadOnlyList<object?>? parameters = null,
        Func<string, IReadOnlyList<object?>, object?>? functions = null)
    {
        ArgumentNullException.ThrowIfNull(select);
        ArgumentNullException.ThrowIfNull(resolveTable);
        return Depth(select) <= InlineMaxDepth
            ? EvaluateOnThisThread(select, resolveTable, parameters, functions)
            : LargeStack.Run(() => EvaluateOnThisThread(select, resolveTable, parameters, functions));
    }

    /// <summary>Selects up to this many expression levels deep are evaluated on the caller's thread: binding and
    /// evaluating measured under 2 KiB of stack per level, so this many fit in any thread's spare stack.</summary>
    private const int InlineMaxDepth = 64;

    private static int Depth(Select select)
    {
        IEnumerable<Expression> expressions = select.Items.OfType<SelectExpression>().Select(i => i.Expression)
            .Concat(select.OrderBy.Select(o => o.Expression));
        if (select.Where is { } where)
        {
            expressions = expressions.Append(where);
        }
        return expressions.Select(ExpressionDepth.Of).DefaultIfEmpty(0).Max();
    }

    private static ResultSet EvaluateOnThisThread(
        Select select,
        Func<Identifier, Table?> resolveTable,
        IReadOnlyList<object?>? parameters,
        Func<string, IReadOnlyList<object?>, object?>? functions)
    {
        Table? table = null;
        if (select.From is { } from)
        {
            table = resolveTable(from)
                ?? throw new Vib3Exception(SqlState.UndefinedTable, $"relation \"{from.Name}\" does not exist at line {from.Position}");
        }

        var binder = new Binder(table?.Columns ?? [], parameters, functions);

        // Select list.
        var outputs = new List<Output>();
        foreach (SelectItem item in select.Items)
        {
            switch (item)
            {
                case SelectStar:
                    if (table is null)
                    {
                        throw new Vib3Exception(SqlState.SyntaxError, $"SELECT * with no tables specified is not valid at line {item.Position}");
                    }
                    for (int i = 0; i < table.Columns.Count; i++)
                    {
                        int index = i;
                        outputs.Add(new Output(table.Columns[i].Name, new Bound(table.Columns[i].Type, row => row[index], false), index));
                    }
                    break;
                case SelectExpression e:
                    Bound bound = binder.Bind(e.Expression);
                    object identity = e.Expression is ColumnRef c ? binder.ResolveColumn(c) : e.Expression;
                    string name = e.Alias?.Name ?? e.Expression switch
                    {
                        ColumnRef column => binder.Columns[binder.ResolveColumn(column)].Name,
                        FunctionCall call => Binder.FunctionName(call.Name),
                        _ => "?column?",
                    };
                    outputs.Add(new Output(name, bound, identity));
                    break;
                default:
                    throw new Vib3Exception(SqlState.InternalError, $"unhandled select item {item.GetType().Name}");
            }
        }

        // WHERE.
        Bound? where = null;
        if (select.Where is { } w)
        {
            where = binder.Bind(w);
            Binder.RequireBoolean(where, "WHERE", w.Position);
        }

        // ORDER BY: each key reads the input row or the output row.
        var keys = new List<(Func<object?[], object?[], object?> Key, bool Descending, SourcePosition Position)>();
        foreach (OrderItem order in select.OrderBy)
        {
            keys.Add((OrderKey(order.Expression, outputs, binder), order.Descending, order.Position));
        }

        // Rows.
        var produced = new List<(object?[] Output, object?[] Keys)>();
        IEnumerable<object?[]> source = table is null ? [[]] : NormalizedRows(table);
        foreach (object?[] row in source)
        {
            if (where is not null && Binder.AsBoolean(where.Eval(row), "WHERE", select.Where!.Position) != true)
            {
                continue;
            }
            var output = new object?[outputs.Count];
            for (int i = 0; i < outputs.Count; i++)
            {
                output[i] = outputs[i].Bound.Eval(row);
            }
            var keyValues = new object?[keys.Count];
            for (int k = 0; k < keys.Count; k++)
            {
                keyValues[k] = keys[k].Key(row, output);
            }
            produced.Add((output, keyValues));
        }

        if (keys.Count > 0)
        {
            produced = StableSort(produced, keys.Select(k => (k.Descending, k.Position)).ToArray());
        }

        IEnumerable<object?[]> rows = produced.Select(p => p.Output);
        if (select.Limit is { } limit)
        {
            rows = rows.Take((int)Math.Min(limit, int.MaxValue));
        }
        object?[][] result = rows.ToArray();

        var columns = new ColumnDef[outputs.Count];
        for (int i = 0; i < outputs.Count; i++)
        {
            // A type unknown before running (NULL, a function's result) is the first non-null value's, else text.
            ColumnType type = outputs[i].Bound.Type
                ?? produced.Select(p => Values.TypeOf(p.Output[i])).FirstOrDefault(t => t is not null)
                ?? ColumnType.Text;
            columns[i] = new ColumnDef(outputs[i].Name, type);
        }
        return new ResultSet(columns, result);
    }

    private static Func<object?[], object?[], object?> OrderKey(Expression expression, List<Output> outputs, Binder binder)
    {
        switch (expression)
        {
            case IntegerLiteral position:
                if (position.Value < 1 || position.Value > outputs.Count)
                {
                    throw new Vib3Exception(InvalidColumnReference,
                        $"ORDER BY position {position.Value} is not in select list at line {expression.Position}");
                }
                int index = (int)position.Value - 1;
                return (_, output) => output[index];
            case StringLiteral or DecimalLiteral:
                throw new Vib3Exception(SqlState.SyntaxError, $"non-integer constant in ORDER BY at line {expression.Position}");
            case ColumnRef column:
                // A bare name means an output column first (Postgres's rule), then an input column.
                int[] matches = Enumerable.Range(0, outputs.Count).Where(i => column.Name.Matches(outputs[i].Name)).ToArray();
                if (matches.Length > 0)
                {
                    if (matches.Any(m => !Equals(outputs[m].Identity, outputs[matches[0]].Identity)))
                    {
                        throw new Vib3Exception(AmbiguousColumn, $"ORDER BY \"{column.Name.Name}\" is ambiguous at line {expression.Position}");
                    }
                    int match = matches[0];
                    return (_, output) => output[match];
                }
                break;
        }
        Bound bound = binder.Bind(expression);
        return (row, _) => bound.Eval(row);
    }

    private static List<(object?[] Output, object?[] Keys)> StableSort(
        List<(object?[] Output, object?[] Keys)> rows, (bool Descending, SourcePosition Position)[] keys)
    {
        int[] order = Enumerable.Range(0, rows.Count).ToArray();
        int Compare(int x, int y)
        {
            for (int k = 0; k < keys.Length; k++)
            {
                object? a = rows[x].Keys[k];
                object? b = rows[y].Keys[k];
                // NULL sorts above every value: last ascending, first descending.
                int c = (a, b) switch
                {
                    (null, null) => 0,
                    (null, _) => 1,
                    (_, null) => -1,
                    _ => Values.Compare(a, b, keys[k].Position, "ORDER BY"),
                };
                if (c != 0)
                {
                    return keys[k].Descending ? -c : c;
                }
            }
            return x.CompareTo(y); // stable
        }
        try
        {
            Array.Sort(order, Compare);
        }
        catch (InvalidOperationException e) when (e.InnerException is Vib3Exception inner)
        {
            throw inner; // Array.Sort wraps what the comparison throws
        }
        return order.Select(i => rows[i]).ToList();
    }

    private static IEnumerable<object?[]> NormalizedRows(Table table)
    {
        int n = 0;
        foreach (object?[] row in table.Rows)
        {
            if (row is null || row.Length != table.Columns.Count)
            {
                throw new Vib3Exception(SqlState.InternalError,
                    $"table \"{table.Name}\" row {n} has {row?.Length ?? 0} values for {table.Columns.Count} columns");
            }
            var copy = new object?[row.Length];
            for (int i = 0; i < row.Length; i++)
            {
                if (!Values.TryNormalize(row[i], out object? value) || (value is not null && Values.TypeOf(value) != table.Columns[i].Type))
                {
                    throw new Vib3Exception(SqlState.InternalError,
                        $"table \"{table.Name}\" row {n} column \"{table.Columns[i].Name}\" holds {row[i]!.GetType().Name}, not {Values.TypeName(table.Columns[i].Type)}");
                }
                copy[i] = value;
            }
            n++;
            yield return copy;
        }
    }

    /// <summary>One output column: its name, how to compute it, and what it is (for ORDER BY ambiguity).</summary>
    private sealed record Output(string Name, Bound Bound, object Identity);
}

/// <summary>A bound expression: its static type (null: unknown until run) and how to evaluate it on a row.</summary>
internal sealed record Bound(ColumnType? Type, Func<object?[], object?> Eval, bool IsConstant);

/// <summary>Resolves names and checks types, turning <see cref="Expression"/>s into <see cref="Bound"/> closures.</summary>
internal sealed class Binder(
    IReadOnlyList<ColumnDef> columns,
    IReadOnlyList<object?>? parameters,
    Func<string, IReadOnlyList<object?>, object?>? functions)
{
    public IReadOnlyList<ColumnDef> Columns => columns;

    public static string FunctionName(Identifier name) => name.Quoted ? name.Name : name.Name.ToLowerInvariant();

    public int ResolveColumn(ColumnRef column)
    {
        int found = -1;
        for (int i = 0; i < columns.Count; i++)
        {
            if (column.Name.Matches(columns[i].Name))
            {
                if (found >= 0)
                {
                    throw new Vib3Exception(SelectEvaluator.AmbiguousColumn,
                        $"column reference \"{column.Name.Name}\" is ambiguous at line {column.Position}");
                }
                found = i;
            }
        }
        return found >= 0
            ? found
            : throw new Vib3Exception(SelectEvaluator.UndefinedColumn, $"column \"{column.Name.Name}\" does not exist at line {column.Position}");
    }

    public Bound Bind(Expression expression)
    {
        switch (expression)
        {
            case StringLiteral s:
                return Constant(s.Value);
            case IntegerLiteral i:
                return Constant(i.Value);
            case DecimalLiteral d:
                return Constant((double)d.Value);
            case BooleanLiteral b:
                return Constant(b.Value);
            case NullLiteral:
                return Constant(null);
            case ParameterRef p:
                if (parameters is null || p.Index > parameters.Count)
                {
                    throw new Vib3Exception(SqlState.InvalidParameterValue, $"there is no parameter ${p.Index} at line {p.Position}");
                }
                if (!Values.TryNormalize(parameters[p.Index - 1], out object? parameter))
                {
                    throw new Vib3Exception(SqlState.InvalidParameterValue,
                        $"parameter ${p.Index} has unsupported type {parameters[p.Index - 1]!.GetType().Name} at line {p.Position}");
                }
                return Constant(parameter);
            case ColumnRef c:
                int index = ResolveColumn(c);
                return new Bound(columns[index].Type, row => row[index], false);
            case FunctionCall f:
                return BindCall(f);
            case Comparison c:
                return BindComparison(c);
            case Like l:
                return BindLike(l);
            case IsNull n:
            {
                Bound operand = Bind(n.Operand);
                bool negated = n.Negated;
                return new Bound(ColumnType.Bool, row => (operand.Eval(row) is null) != negated, false);
            }
            case Not n:
            {
                Bound operand = Bind(n.Operand);
                RequireBoolean(operand, "NOT", n.Operand.Position);
                SourcePosition position = n.Operand.Position;
                return new Bound(ColumnType.Bool, row => AsBoolean(operand.Eval(row), "NOT", position) is bool v ? !v : null, false);
            }
            case And a:
            {
                (Bound left, Bound right) = (Bind(a.Left), Bind(a.Right));
                RequireBoolean(left, "AND", a.Left.Position);
                RequireBoolean(right, "AND", a.Right.Position);
                return new Bound(ColumnType.Bool, row =>
                {
                    bool? l = AsBoolean(left.Eval(row), "AND", a.Left.Position);
                    if (l == false)
                    {
                        return false;
                    }
                    bool? r = AsBoolean(right.Eval(row), "AND", a.Right.Position);
                    return r == false ? false : l is null || r is null ? null : true;
                }, false);
            }
            case Or o:
            {
                (Bound left, Bound right) = (Bind(o.Left), Bind(o.Right));
                RequireBoolean(left, "OR", o.Left.Position);
                RequireBoolean(right, "OR", o.Right.Position);
                return new Bound(ColumnType.Bool, row =>
                {
                    bool? l = AsBoolean(left.Eval(row), "OR", o.Left.Position);
                    if (l == true)
                    {
                        return true;
                    }
                    bool? r = AsBoolean(right.Eval(row), "OR", o.Right.Position);
                    return r == true ? true : l is null || r is null ? null : false;
                }, false);
            }
            default:
                throw new Vib3Exception(SqlState.FeatureNotSupported, $"unsupported expression {expression.GetType().Name} at line {expression.Position}");
        }
    }

    /// <summary>42804 unless <paramref name="bound"/> is boolean or of unknown type.</summary>
    public static void RequireBoolean(Bound bound, string what, SourcePosition position)
    {
        if (bound.Type is not null and not ColumnType.Bool)
        {
            throw NotBoolean(bound.Type, what, position);
        }
    }

    /// <summary>A value as a three-valued boolean; 42804 for a non-boolean value (possible only for unknown types).</summary>
    public static bool? AsBoolean(object? value, string what, SourcePosition position) => value switch
    {
        null => null,
        bool b => b,
        _ => throw NotBoolean(Values.TypeOf(value), what, position),
    };

    private static Vib3Exception NotBoolean(ColumnType? type, string what, SourcePosition position) =>
        new(Values.DatatypeMismatch, $"argument of {what} must be type boolean, not type {Values.TypeName(type)} at line {position}");

    private static Bound Constant(object? value) => new(Values.TypeOf(value), _ => value, true);

    private Bound BindComparison(Comparison c)
    {
        (Bound left, Bound right) = (Bind(c.Left), Bind(c.Right));
        string op = c.Operator switch
        {
            ComparisonOperator.Equal => "=",
            ComparisonOperator.NotEqual => "<>",
            ComparisonOperator.Less => "<",
            ComparisonOperator.LessOrEqual => "<=",
            ComparisonOperator.Greater => ">",
            _ => ">=",
        };
        if (!Values.Comparable(left.Type, right.Type))
        {
            throw Values.Mismatch(left.Type, right.Type, c.Position, op);
        }
        Func<int, bool> test = c.Operator switch
        {
            ComparisonOperator.Equal => r => r == 0,
            ComparisonOperator.NotEqual => r => r != 0,
            ComparisonOperator.Less => r => r < 0,
            ComparisonOperator.LessOrEqual => r => r <= 0,
            ComparisonOperator.Greater => r => r > 0,
            _ => r => r >= 0,
        };
        SourcePosition position = c.Position;
        return new Bound(ColumnType.Bool, row =>
        {
            object? l = left.Eval(row);
            object? r = right.Eval(row);
            return l is null || r is null ? null : test(Values.Compare(l, r, position, op));
        }, false);
    }

    private Bound BindLike(Like like)
    {
        (Bound operand, Bound pattern) = (Bind(like.Operand), Bind(like.Pattern));
        string op = like.Negated ? "NOT LIKE" : "LIKE";
        if (operand.Type is not null and not ColumnType.Text || pattern.Type is not null and not ColumnType.Text)
        {
            throw new Vib3Exception(Values.DatatypeMismatch,
                $"{op} needs text operands, not {Values.TypeName(operand.Type)} {op} {Values.TypeName(pattern.Type)} at line {like.Position}");
        }
        SourcePosition position = like.Pattern.Position;
        LikePattern? fixedPattern = pattern.IsConstant && pattern.Eval([]) is string p ? LikePattern.Compile(p, position) : null;
        bool negated = like.Negated;
        return new Bound(ColumnType.Bool, row =>
        {
            object? value = operand.Eval(row);
            object? patternValue = fixedPattern is null ? pattern.Eval(row) : null;
            if (value is null || (fixedPattern is null && patternValue is null))
            {
                return null;
            }
            if (value is not string text || (fixedPattern is null && patternValue is not string))
            {
                throw new Vib3Exception(Values.DatatypeMismatch,
                    $"{op} needs text operands, not {Values.TypeName(Values.TypeOf(value))} {op} {Values.TypeName(Values.TypeOf(patternValue ?? ""))} at line {like.Position}");
            }
            LikePattern compiled = fixedPattern ?? LikePattern.Compile((string)patternValue!, position);
            return compiled.IsMatch(text) != negated;
        }, false);
    }

    private Bound BindCall(FunctionCall call)
    {
        string name = FunctionName(call.Name);
        Bound[] arguments = call.Arguments.Select(Bind).ToArray();
        string signature = $"{name}({string.Join(", ", arguments.Select(a => Values.TypeName(a.Type)))})";
        SourcePosition position = call.Position;
        if (functions is null)
        {
            throw NoFunction(signature, position);
        }
        object? Invoke(object?[] row)
        {
            object?[] values = arguments.Select(a => a.Eval(row)).ToArray();
            object? result = functions(name, values);
            if (ReferenceEquals(result, SelectEvaluator.UnknownFunction))
            {
                throw NoFunction(signature, position);
            }
            if (!Values.TryNormalize(result, out object? normalized))
            {
                throw new Vib3Exception(SqlState.InternalError, $"function {signature} returned unsupported type {result!.GetType().Name}");
            }
            return normalized;
        }
        if (arguments.All(a => a.IsConstant))
        {
            return Constant(Invoke([])); // once, before any row: an unknown function fails even on an empty table
        }
        return new Bound(null, Invoke, false);
    }

    private static Vib3Exception NoFunction(string signature, SourcePosition position) =>
        new(SelectEvaluator.UndefinedFunction, $"function {signature} does not exist at line {position}");
}
