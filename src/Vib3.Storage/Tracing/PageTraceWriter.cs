using Vib3.Core;
using Vib3.Storage.Catalog;

namespace Vib3.Storage.Tracing;

/// <summary>Records a store's reads to a trace file (<see cref="PageTraceFormat"/>); give it to the store through
/// <see cref="PageStoreOptions.Trace"/>. Thread-safe: reads arrive from many threads.</summary>
public sealed class PageTraceWriter : IDisposable
{
    private readonly object _gate = new();
    private readonly BinaryWriter _out;
    private bool _disposed;

    /// <param name="pageBytes">Each page's length, page by page (as many as <paramref name="classes"/> has).</param>
    public PageTraceWriter(string path, string model, PageClassMap classes, IReadOnlyList<int> pageBytes)
    {
        if (classes.PageCount > PageTraceFormat.MaxPages)
            throw new Vib3Exception(SqlState.InvalidParameterValue, $"a trace holds at most {PageTraceFormat.MaxPages} pages, not {classes.PageCount}");
        if (pageBytes.Count != classes.PageCount)
            throw new ArgumentException($"{pageBytes.Count} page lengths for {classes.PageCount} pages", nameof(pageBytes));
        _out = new BinaryWriter(new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16));
        _out.Write(PageTraceFormat.Magic);
        _out.Write(model);
        _out.Write(classes.PageCount);
        for (var p = 0; p < classes.PageCount; p++)
        {
            var c = classes[p];
            _out.Write((byte)c.Kind);
            _out.Write(checked((short)c.Layer));
            _out.Write(checked((short)c.Expert));
            _out.Write(pageBytes[p]);
        }
    }

    /// <summary>A trace of stored model <paramref name="name"/>: its pages' classes from the manifest, their lengths from the page table.</summary>
    public static PageTraceWriter ForModel(string path, ModelCatalog catalog, string name)
    {
        var classes = PageClassifier.FromManifest(catalog.Get(name));
        var entries = PageTableFile.Read(Path.Combine(catalog.ModelDir(name), PageTableFile.FileName), name);
        return new PageTraceWriter(path, name, classes, entries.Select(e => e.Length).ToArray());
    }

    /// <summary>Reads recorded so far.</summary>
    public long Reads { get; private set; }

    /// <summary>The next read starts a new step (a prefill or a decoded token).</summary>
    public void MarkStep() => Write(PageTraceFormat.StepMarker);

    internal void Record(int page, PageReadOutcome outcome)
    {
        Write((uint)page | (uint)outcome << PageTraceFormat.OutcomeShift);
    }

    private void Write(uint record)
    {
        lock (_gate)
        {
            if (_disposed) return; // a read racing the end of a run is not worth an exception
            _out.Write(record);
            if (record != PageTraceFormat.StepMarker) Reads++;
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            _out.Dispose();
        }
    }
}
