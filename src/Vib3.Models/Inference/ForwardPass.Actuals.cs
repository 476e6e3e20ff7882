using Vib3.Models.Device;
using Vib3.Models.Weights;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Inference;

/// <summary>EXPLAIN ANALYZE's figures: after each operator of a measured step, every statement with rows in the step
/// is given the operator's time and waits in the step, its own rows, and the pages read for them — the operator's
/// pages, shared by all the step's rows, for most operators; the page of each of its own rows' tokens for Embed; the
/// bundle pages its own rows chose for Experts. FinalNorm and LmHead run only the rows whose logits are wanted.</summary>
public sealed partial class ForwardPass
{
    private List<BundleRows>? _work;                                  // the Experts operator's pages and their rows, this step
    private ExpertPlace[] _places = [];                               // where each of them ran (all Cpu without a device)
    private int[] _readAt = [];                                       // each one's place in the list of pages read; -1: resident in VRAM
    private ProductCounts _products;                                  // the running operator's products by place (with a device)
    private readonly List<(StatementActuals Actuals, int Rows, StepPhase Phase)> _statements = []; // Attribute's scratch

    private void Attribute(PhysicalOperator op, IReadOnlyList<StepRow> rows, IReadOnlyList<int> logitRows, long start, PageWaitStats waitsBefore)
    {
        var time = System.Diagnostics.Stopwatch.GetElapsedTime(start);
        var waits = _w.PageWaits - waitsBefore;
        var onlyLogitRows = op.Kind is OperatorKind.FinalNorm or OperatorKind.LmHead;
        _statements.Clear();
        for (var j = 0; j < (onlyLogitRows ? logitRows.Count : rows.Count); j++)
        {
            var r = rows[onlyLogitRows ? logitRows[j] : j];
            if (r.Actuals is not { } actuals) continue;
            var k = 0; // a step holds few statements: a scan, and no closure to allocate per row and operator
            while (k < _statements.Count && _statements[k].Actuals != actuals) k++;
            if (k == _statements.Count) _statements.Add((actuals, 1, r.Phase));
            else _statements[k] = (actuals, _statements[k].Rows + 1, r.Phase == StepPhase.Prefill ? StepPhase.Prefill : _statements[k].Phase);
        }
        foreach (var (actuals, count, phase) in _statements)
            actuals.Add(op.Id, phase, new OperatorFigures(1, count, time, Reads(op, rows, actuals), waits.Waits, TimeSpan.FromSeconds(waits.Seconds),
                Vram(op, rows, actuals), _products, RowPageBytes(op, rows, actuals), RowKeyBytes(op, rows, actuals)));
    }

    /// <summary>For Experts: the stored bytes of the pages each of <paramref name="actuals"/>'s rows used, per row (the
    /// page oracle's kept pages only).</summary>
    private long RowPageBytes(PhysicalOperator op, IReadOnlyList<StepRow> rows, StatementActuals actuals)
    {
        if (op.Kind != OperatorKind.Experts || _work is not { } work) return 0;
        var bytes = 0L;
        for (var j = 0; j < work.Count; j++)
            for (var t = 0; t < work[j].Rows.Count; t++)
                if (rows[work[j].Rows[t].Row].Actuals == actuals && (_dropped.Count == 0 || !_dropped.Contains((j, t))))
                    bytes += _w.Store.PageLength(work[j].Page);
        return bytes;
    }

    /// <summary>For Experts: the neuron key bytes router-first retrieval read for <paramref name="actuals"/>'s rows.</summary>
    private long RowKeyBytes(PhysicalOperator op, IReadOnlyList<StepRow> rows, StatementActuals actuals)
    {
        if (op.Kind != OperatorKind.Experts) return 0;
        var bytes = 0L;
        for (var i = 0; i < rows.Count && i < _keyBytes.Length; i++)
            if (rows[i].Actuals == actuals) bytes += _keyBytes[i];
        return bytes;
    }

    /// <summary>The pages read for <paramref name="actuals"/>'s rows by the operator that just ran.</summary>
    private PageCounts Reads(PhysicalOperator op, IReadOnlyList<StepRow> rows, StatementActuals actuals)
    {
        PageCounts reads = default;
        switch (op.Kind)
        {
            case OperatorKind.Embed:
                for (var i = 0; i < rows.Count; i++)
                    if (rows[i].Actuals == actuals) reads += _tally.At(i);
                return reads;
            case OperatorKind.Experts when _work is { } work:
                for (var j = 0; j < work.Count; j++)
                    if (_readAt[j] >= 0 && Uses(work[j], rows, actuals)) reads += _tally.At(_readAt[j]);
                return reads;
            default:
                return _tally.Total;
        }
    }

    /// <summary>Where the Experts operator ran the pages <paramref name="actuals"/>'s rows used, when the model has a
    /// VRAM expert cache: resident, uploaded, or on the CPU.</summary>
    private DeviceExpertCounts Vram(PhysicalOperator op, IReadOnlyList<StepRow> rows, StatementActuals actuals)
    {
        if (op.Kind != OperatorKind.Experts || _work is not { } work || _device?.Experts is null) return default;
        DeviceExpertCounts counts = default;
        for (var j = 0; j < work.Count; j++)
            if (Uses(work[j], rows, actuals))
                counts += _places[j] switch
                {
                    ExpertPlace.Vram => new DeviceExpertCounts(1, 0, 0, 0),
                    ExpertPlace.Upload => new DeviceExpertCounts(0, 1, 0, 0),
                    _ => new DeviceExpertCounts(0, 0, 1, 0),
                };
        return counts;
    }

    private static bool Uses(BundleRows page, IReadOnlyList<StepRow> rows, StatementActuals actuals)
    {
        foreach (var (row, _) in page.Rows)
            if (rows[row].Actuals == actuals) return true;
        return false;
    }
}
