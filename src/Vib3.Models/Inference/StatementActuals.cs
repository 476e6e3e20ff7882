using Vib3.Models.Device;
using Vib3.Models.Weights;

namespace Vib3.Models.Inference;

/// <summary>What one operator did for one statement, summed over the steps that ran the statement's rows: EXPLAIN
/// ANALYZE's actual figures. <paramref name="Calls"/>: steps in which it ran rows of the statement;
/// <paramref name="Rows"/>: those rows; <paramref name="Time"/>: the operator's time in those steps (shared with the
/// other statements' rows of the same steps); pages by how each was found — in RAM, joined to a read already under
/// way, read from disk — with their bytes, and the reads it started ahead (expert prefetch) (a page the step read once
/// for rows of several statements counts in each statement whose rows used it); <paramref name="Waits"/>: times compute
/// found no page ready, for <paramref name="WaitTime"/>; <paramref name="Vram"/>: for Experts with a VRAM expert cache,
/// where those pages ran (resident on the device, uploaded, on the CPU; evictions are not counted per statement);
/// <paramref name="Products"/>: for a model with a device, the operator's matrix products that ran there and on the
/// CPU (shared by the step's rows, as its time is); <paramref name="RowPageBytes"/>: for Experts, the stored bytes of
/// the pages each of its rows used, counted once per row (what the rows read if each ran alone, as decode steps do,
/// whereas <see cref="Bytes"/> counts a page once a step however many of the step's rows chose it);
/// <paramref name="RowKeyBytes"/>: for Experts under router-first retrieval, the neuron key bytes scored for its rows.</summary>
public readonly record struct OperatorFigures(long Calls, long Rows, TimeSpan Time, PageCounts Reads, long Waits, TimeSpan WaitTime,
    DeviceExpertCounts Vram = default, ProductCounts Products = default, long RowPageBytes = 0, long RowKeyBytes = 0)
{
    public long PagesHit => Reads.Hits;

    public long PagesJoined => Reads.Joined;

    public long PagesFromDisk => Reads.FromDisk;

    public long Pages => Reads.Pages;

    public long Bytes => Reads.Bytes;

    public static OperatorFigures operator +(OperatorFigures a, OperatorFigures b) => new(a.Calls + b.Calls, a.Rows + b.Rows, a.Time + b.Time,
        a.Reads + b.Reads, a.Waits + b.Waits, a.WaitTime + b.WaitTime, a.Vram + b.Vram, a.Products + b.Products, a.RowPageBytes + b.RowPageBytes,
        a.RowKeyBytes + b.RowKeyBytes);
}

/// <summary>Dense matrix products of an operator by where they ran, and for Attention, where its steps attended over the
/// KV caches (in VRAM or in RAM); counted only for a model with a device.</summary>
public readonly record struct ProductCounts(long OnDevice, long OnCpu, long AttendedOnDevice = 0, long AttendedOnCpu = 0)
{
    public static ProductCounts operator +(ProductCounts a, ProductCounts b) =>
        new(a.OnDevice + b.OnDevice, a.OnCpu + b.OnCpu, a.AttendedOnDevice + b.AttendedOnDevice, a.AttendedOnCpu + b.AttendedOnCpu);
}

/// <summary>Which rows of a statement a step ran: prompt rows (prefill) or generated tokens (decode).</summary>
public enum StepPhase
{
    Prefill,
    Decode,
}

/// <summary>One statement's figures per operator of its <see cref="ForwardProgram"/> (indexed by
/// <see cref="PhysicalOperator.Id"/>) and phase, added to by every step that runs its rows — and only by those, so
/// sequences running beside it never count as its own. Thread-safe.</summary>
public sealed class StatementActuals(ForwardProgram program)
{
    private readonly OperatorFigures[][] _figures = [new OperatorFigures[program.Operators.Count], new OperatorFigures[program.Operators.Count]];

    public ForwardProgram Program { get; } = program;

    /// <summary>An operator's figures over both phases.</summary>
    public OperatorFigures this[int id] => this[id, StepPhase.Prefill] + this[id, StepPhase.Decode];

    public OperatorFigures this[int id, StepPhase phase]
    {
        get { lock (_figures) return _figures[(int)phase][id]; }
    }

    /// <summary>The sum over every operator (calls and rows are left 0: operators run the same steps and rows).</summary>
    public OperatorFigures Total => Sum(StepPhase.Prefill) + Sum(StepPhase.Decode);

    /// <summary>The sum over every operator in one phase (calls and rows left 0).</summary>
    public OperatorFigures Sum(StepPhase phase)
    {
        lock (_figures) return _figures[(int)phase].Aggregate(default(OperatorFigures), (a, b) => a + b) with { Calls = 0, Rows = 0 };
    }

    public void Add(int id, StepPhase phase, OperatorFigures figures)
    {
        lock (_figures) _figures[(int)phase][id] += figures;
    }
}
