using Vib3.Core;
using Vib3.Storage.Tracing;

namespace Vib3.Storage.Tests;

/// <summary>The trace file: what the store records, and reading it back.</summary>
public class PageTraceTests
{
    private static readonly PageClassMap Classes = new([
        PageClass.Dense, new(PageKind.Expert, 0, 0), new(PageKind.Expert, 0, 1), new(PageKind.Expert, 3, 7), new(PageKind.Sparse, -1, -1),
    ]);

    private static readonly int[] Lengths = [100, 2000, 2000, 2000, 300];

    [Fact]
    public void Written_ThenRead_GivesBackClassesReadsAndSteps()
    {
        using var dir = new TempStore();
        var path = Path.Combine(dir.Dir, "t.trace");
        using (var w = new PageTraceWriter(path, "m", Classes, Lengths))
        {
            w.Record(0, PageReadOutcome.Miss);
            w.MarkStep();
            w.Record(3, PageReadOutcome.Hit);
            w.Record(4, PageReadOutcome.Joined);
            w.MarkStep();
            w.Record(1, PageReadOutcome.Miss);
            Assert.Equal(4, w.Reads);
        }
        var t = PageTrace.Read(path);
        Assert.Equal("m", t.Model);
        Assert.Equal(Enumerable.Range(0, 5).Select(p => Classes[p]), Enumerable.Range(0, t.Classes.PageCount).Select(p => t.Classes[p]));
        Assert.Equal(Lengths, t.PageBytes);
        Assert.Equal([0, 3, 4, 1], t.Pages);
        Assert.Equal([PageReadOutcome.Miss, PageReadOutcome.Hit, PageReadOutcome.Joined, PageReadOutcome.Miss], t.Outcomes);
        Assert.Equal([1, 3], t.StepStarts);
    }

    [Fact]
    public void NotATrace_IsRefusedAsCorrupt()
    {
        using var dir = new TempStore();
        var path = Path.Combine(dir.Dir, "t.trace");
        File.WriteAllBytes(path, "VIB3TRC9 and more"u8.ToArray());
        Assert.Equal(SqlState.DataCorrupted, Assert.Throws<Vib3Exception>(() => PageTrace.Read(path)).SqlState);
    }

    [Fact]
    public void ARecordNamingAPageOutsideTheHeader_IsRefusedAsCorrupt()
    {
        using var dir = new TempStore();
        var path = Path.Combine(dir.Dir, "t.trace");
        using (var w = new PageTraceWriter(path, "m", Classes, Lengths)) w.Record(5, PageReadOutcome.Hit);
        Assert.Equal(SqlState.DataCorrupted, Assert.Throws<Vib3Exception>(() => PageTrace.Read(path)).SqlState);
    }

    [Fact]
    public async Task TheStore_RecordsEveryRead_WithWhatItDid()
    {
        using var store = new TempStore().Write(count: 5, minLen: 1000, maxLen: 3000, seed: 7);
        var path = Path.Combine(store.Dir, "t.trace");
        int[] reads = [0, 1, 0, 2, 2, 4];
        using (var trace = new PageTraceWriter(path, "test-model", Classes, store.Pages.Select(p => p.Length).ToArray()))
        using (var pages = store.Open(trace: trace))
        {
            trace.MarkStep();
            foreach (var p in reads) (await pages.ReadAsync(p)).Dispose();
            var s = pages.Stats;
            Assert.Equal((2, 4), (s.Hits, s.Misses));
        }
        var t = PageTrace.Read(path);
        Assert.Equal(reads, t.Pages);
        PageReadOutcome hit = PageReadOutcome.Hit, miss = PageReadOutcome.Miss;
        Assert.Equal([miss, miss, hit, miss, hit, miss], t.Outcomes);
        Assert.Equal([0], t.StepStarts);
    }
}
