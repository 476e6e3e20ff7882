using Vib3.Core;

namespace Vib3.Storage.Tests;

public class ErrorTests
{
    [Fact]
    public async Task FlippedByteInSegment_IsDataCorruptedNamingModelAndPage()
    {
        using var store = new TempStore().Write(count: 20, minLen: 5_000, maxLen: 9_000, seed: 21);
        PageEntry entry;
        using (var probe = store.Open()) entry = probe.Entry(13);

        // FASTER's logical address is the file offset (1 GiB segments); the payload follows a 4-byte header.
        using (var fs = new FileStream(store.SegmentPath(0), FileMode.Open, FileAccess.ReadWrite))
        {
            fs.Position = entry.Address + 4 + 1234;
            int b = fs.ReadByte();
            fs.Position -= 1;
            fs.WriteByte((byte)(b ^ 0x40));
        }

        using var pages = store.Open();
        var ex = await Assert.ThrowsAsync<Vib3Exception>(async () => await pages.ReadAsync(13));
        Assert.Equal(SqlState.DataCorrupted, ex.SqlState);
        Assert.Contains("page 13 of model 'test-model' is corrupt: checksum mismatch", ex.Message);
        Assert.Equal(1, pages.Stats.ChecksumFailures);
        // Neighbours are fine and the failure was not cached.
        using (var ok = await pages.ReadAsync(12)) Assert.True(ok.Memory.Span.SequenceEqual(store.Pages[12]));
        await Assert.ThrowsAsync<Vib3Exception>(async () => await pages.ReadAsync(13));
    }

    [Fact]
    public async Task RecordHeaderDisagreeingWithThePageTable_IsDataCorrupted()
    {
        using var store = new TempStore().Write(count: 20, minLen: 5_000, maxLen: 9_000, seed: 22);
        PageEntry entry;
        using (var probe = store.Open()) entry = probe.Entry(7);
        using (var fs = new FileStream(store.SegmentPath(0), FileMode.Open, FileAccess.ReadWrite))
        {
            fs.Position = entry.Address; // the record's 4-byte length header
            fs.Write(BitConverter.GetBytes(entry.Length + 8));
        }

        using var pages = store.Open();
        var ex = await Assert.ThrowsAsync<Vib3Exception>(async () => await pages.ReadAsync(7));
        Assert.Equal(SqlState.DataCorrupted, ex.SqlState);
        Assert.Contains($"page 7 of model 'test-model' is corrupt: the log record at address {entry.Address} holds {entry.Length + 8} bytes", ex.Message);
        using var ok = await pages.ReadAsync(8);
        Assert.True(ok.Memory.Span.SequenceEqual(store.Pages[8]));
    }

    [Fact]
    public void TruncatedPageTable_NamesTheModel()
    {
        using var store = new TempStore().Write(count: 10, minLen: 1, maxLen: 100);
        string table = Path.Combine(store.Dir, "pages.tbl");
        var bytes = File.ReadAllBytes(table);
        File.WriteAllBytes(table, bytes[..^5]);
        var ex = Assert.Throws<Vib3Exception>(() => store.Open());
        Assert.Equal(SqlState.DataCorrupted, ex.SqlState);
        Assert.Contains("model test-model's page table is corrupt", ex.Message);
        Assert.Contains("header says 10 pages", ex.Message);

        File.WriteAllBytes(table, bytes[..7]);
        ex = Assert.Throws<Vib3Exception>(() => store.Open());
        Assert.Equal(SqlState.DataCorrupted, ex.SqlState);
        Assert.Contains("model test-model's page table is corrupt", ex.Message);
    }

    [Fact]
    public void GarbagePageTable_NamesTheModel()
    {
        using var store = new TempStore().Write(count: 10, minLen: 1, maxLen: 100);
        string table = Path.Combine(store.Dir, "pages.tbl");
        var garbage = new byte[PageTableFile.HeaderBytes + PageTableFile.RowBytes * 10];
        new Random(4).NextBytes(garbage);
        File.WriteAllBytes(table, garbage);
        var ex = Assert.Throws<Vib3Exception>(() => store.Open());
        Assert.Equal(SqlState.DataCorrupted, ex.SqlState);
        Assert.Contains("model test-model's page table is corrupt", ex.Message);
        Assert.Contains("bad magic", ex.Message);
    }

    [Fact]
    public void PageTableRowsBeyondTheLog_AreRejectedAtOpen()
    {
        using var store = new TempStore().Write(count: 10, minLen: 1, maxLen: 100);
        string table = Path.Combine(store.Dir, "pages.tbl");
        var bytes = File.ReadAllBytes(table);
        BitConverter.TryWriteBytes(bytes.AsSpan(PageTableFile.HeaderBytes + PageTableFile.RowBytes * 9), 1L << 40); // last row's address
        var rows = new System.IO.Hashing.XxHash64();
        rows.Append(bytes.AsSpan(PageTableFile.HeaderBytes));
        PageTableFile.Seal(rows, bytes.AsSpan(0, PageTableFile.HeaderBytes)); // a valid checksum: the log check must catch it
        File.WriteAllBytes(table, bytes);
        var ex = Assert.Throws<Vib3Exception>(() => store.Open());
        Assert.Equal(SqlState.DataCorrupted, ex.SqlState);
        Assert.Contains("page 9", ex.Message);
    }

    [Fact]
    public void MissingStore_NamesTheFile()
    {
        using var store = new TempStore();
        var ex = Assert.Throws<Vib3Exception>(() => store.Open());
        Assert.Contains("pages.tbl", ex.Message);
    }

    [Fact]
    public void BudgetTooSmall_IsInsufficientResources()
    {
        using var store = new TempStore().Write(count: 5, minLen: 100_000, maxLen: 200_000);
        var ex = Assert.Throws<Vib3Exception>(() => store.Open(ramBudget: 150_000));
        Assert.Equal(SqlState.InsufficientResources, ex.SqlState);
        Assert.Contains("(150000 bytes) is below the minimum", ex.Message);
        Assert.Contains("for model test-model (its largest page", ex.Message);
    }

    [Fact]
    public void PageLargerThanMax_IsInvalidParameter()
    {
        using var store = new TempStore();
        using var writer = PageLogWriter.Create(store.Dir, 1000);
        writer.Append(new byte[1000]);
        var ex = Assert.Throws<Vib3Exception>(() => writer.Append(new byte[1001]));
        Assert.Equal(SqlState.InvalidParameterValue, ex.SqlState);
        Assert.Contains("1001 bytes", ex.Message);
        Assert.Equal(1, writer.PageCount);
    }

    [Fact]
    public void CreateOverExistingStore_IsRefused()
    {
        using var store = new TempStore().Write(count: 2, minLen: 1, maxLen: 10);
        var ex = Assert.Throws<Vib3Exception>(() => PageLogWriter.Create(store.Dir, 10));
        Assert.Equal(SqlState.InvalidParameterValue, ex.SqlState);
    }
}
