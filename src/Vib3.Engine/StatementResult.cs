using Vib3.Query.Execution;

namespace Vib3.Engine;

/// <summary>What one statement returns: a command tag (as Postgres reports it), and for row-returning statements
/// the columns and the rows — streamed, so GENERATE ... STREAM rows arrive as tokens are produced. Consume the
/// rows before asking for the next statement's result.</summary>
public sealed class StatementResult
{
    public required string CommandTag { get; init; }
    public IReadOnlyList<ColumnDef> Columns { get; init; } = [];
    public IAsyncEnumerable<object?[]> Rows { get; init; } = Stream([]);

    public bool ReturnsRows => Columns.Count > 0;

    internal static StatementResult Command(string tag) => new() { CommandTag = tag };

    internal static StatementResult Table(string tag, IReadOnlyList<ColumnDef> columns, IEnumerable<object?[]> rows) =>
        new() { CommandTag = tag, Columns = columns, Rows = Stream(rows) };

    /// <summary>Rows already in hand, as the stream every result exposes.</summary>
    private static async IAsyncEnumerable<object?[]> Stream(IEnumerable<object?[]> rows)
    {
        foreach (var row in rows) yield return row;
        await Task.CompletedTask.ConfigureAwait(false);
    }
}
