namespace Vib3.Query.Execution;

/// <summary>The type of a column or value. Maps to Postgres types text (oid 25), int8 (20), float8 (701), bool (16).</summary>
public enum ColumnType
{
    /// <summary>Held as <see cref="string"/>.</summary>
    Text,
    /// <summary>Held as <see cref="long"/>.</summary>
    Int64,
    /// <summary>Held as <see cref="double"/>.</summary>
    Float64,
    /// <summary>Held as <see cref="bool"/>.</summary>
    Bool,
}

/// <summary>One column of a <see cref="Table"/> or <see cref="ResultSet"/>.</summary>
public sealed record ColumnDef(string Name, ColumnType Type);

/// <summary>
/// An in-memory table for <see cref="SelectEvaluator"/>. Each row has one value per column: null or the
/// CLR type of the column's <see cref="ColumnType"/> (other integer types are widened to long, float and
/// decimal to double). <paramref name="rows"/> is enumerated once per evaluation.
/// </summary>
public sealed class Table(string name, IReadOnlyList<ColumnDef> columns, IEnumerable<object?[]> rows)
{
    public string Name { get; } = name ?? throw new ArgumentNullException(nameof(name));
    public IReadOnlyList<ColumnDef> Columns { get; } = columns ?? throw new ArgumentNullException(nameof(columns));
    public IEnumerable<object?[]> Rows { get; } = rows ?? throw new ArgumentNullException(nameof(rows));
}

/// <summary>The result of <see cref="SelectEvaluator.Evaluate"/>: typed columns and rows of values (see <see cref="Table"/>).</summary>
public sealed class ResultSet(IReadOnlyList<ColumnDef> columns, IReadOnlyList<object?[]> rows)
{
    public IReadOnlyList<ColumnDef> Columns { get; } = columns;
    public IReadOnlyList<object?[]> Rows { get; } = rows;
}
