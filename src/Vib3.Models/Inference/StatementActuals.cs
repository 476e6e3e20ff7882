using System.Diagnostics;

namespace Vib3.Models.Inference;

/// <summary>What one operator did for one statement, summed over the steps that ran the statement's rows: EXPLAIN
/// ANALYZE's actual figures. <paramref name="Calls"/>: steps in which it ran rows of the statement;
/// <paramref name="Rows"/>: those rows; <paramref name="Time"/>: the operator's time in those steps (shared with the
/// other statements' rows of the same steps); pages by how each was found — in RAM, joined to a read already under
/// way, read from disk — and their bytes (a page the step read once for rows of several statements counts in each
/// statement whose rows used it); <paramref name="Waits"/>: times compute found no page ready, for
/// <paramref name="WaitTime"/>.</summary>
public readonly record struct OperatorFigures(long Calls, long Rows, TimeSpan Time, long PagesHit, long PagesJoined, long PagesFromDisk,
    long Bytes, long Waits, TimeSpan WaitTime)
{
    public long Pages => PagesHit + PagesJoined + PagesFromDisk;

    public static OperatorFigures operator +(OperatorFigures a, OperatorFigures b) => new(a.Calls + b.Calls, a.Rows + b.Rows, a.Time + b.Time,
        a.PagesHit + b.PagesHit, a.PagesJoined + b.PagesJoined, a.PagesFromDisk + b.PagesFromDisk, a.Bytes + b.Bytes, a.Waits + b.Waits,
        a.WaitTime + b.WaitTime);
}

/// <summary>One statement's figures per operator of its <see cref="ForwardProgram"/> (indexed by
/// <see cref="PhysicalOperator.Id"/>), added to by every step that runs its rows — and only by those, so sequences
/// running beside it never count as its own. Thread-safe.</summary>
public sealed class StatementActuals(ForwardProgram program)
{
    private readonly OperatorFigures[] _figures = new OperatorFigures[program.Operators.Count];

    public ForwardProgram Program { get; } = program;

    public OperatorFigures this[int id]
    {
        get { lock (_figures) return _figures[id]; }
    }

    /// <summary>The sum over every operator.</summary>
    public OperatorFigures Total
    {
        get
        {
            lock (_figures) return _figures.Aggregate(default(OperatorFigures), (a, b) => a + b) with { Calls = 0, Rows = 0 };
        }
    }

    public void Add(int id, OperatorFigures figures)
    {
        lock (_figures) _figures[id] += figures;
    }

    /// <summary>Times one piece of work for <see cref="Add"/>.</summary>
    public static TimeSpan Since(long timestamp) => Stopwatch.GetElapsedTime(timestamp);
}
