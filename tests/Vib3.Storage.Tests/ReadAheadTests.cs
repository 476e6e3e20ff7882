namespace Vib3.Storage.Tests;

/// <summary>Read-ahead: a load started early for a page the caller will read; the read that uses it counts as the disk
/// read it is (a miss, issued early), never as a hit or a scored prediction.</summary>
public class ReadAheadTests
{
    private const int PageLen = 20_000, Count = 8;

    [Fact]
    public async Task A_page_read_ahead_is_counted_once_as_a_miss_and_not_as_a_prefetch()
    {
        using var store = new TempStore().Write(Count, PageLen, PageLen, seed: 5);
        using var pages = store.Open(ramBudget: PageStore.RamBudgetFor(Count, PageLen));
        Assert.True(pages.ReadAhead(3));
        Assert.False(pages.ReadAhead(3)); // already loading
        using (var lease = await pages.ReadAsync(3)) Assert.True(lease.Memory.Span.SequenceEqual(store.Pages[3]));
        using (await pages.ReadAsync(3)) { } // now an ordinary hit

        Assert.Equal(1, pages.Stats.Misses);
        Assert.Equal(1, pages.Stats.Hits);
        Assert.Equal(0, pages.Prefetches.Issued);
        Assert.Equal(PageLen, pages.Stats.BytesRead);
    }
}
