using System.Buffers.Binary;
using System.IO.Hashing;
using Vib3.Core;

namespace Vib3.Storage.Tests;

/// <summary>pages.tbl checks itself: each row names its page and the table carries a checksum, so rows that trade
/// places, a flipped bit anywhere, or a table from an older vib3 are refused at open with one line, never read as
/// another page's bytes.</summary>
public class PageTableIntegrityTests
{
    private const int Pages = 10;

    /// <summary>Pages of one length, so swapped rows still point at whole, checksum-valid log records.</summary>
    private static TempStore SameLengthPages() => new TempStore().Write(count: Pages, minLen: 512, maxLen: 512, seed: 5);

    private static string TablePath(TempStore store) => Path.Combine(store.Dir, PageTableFile.FileName);

    private static Span<byte> Row(byte[] table, int page) => table.AsSpan(PageTableFile.HeaderBytes + page * PageTableFile.RowBytes, PageTableFile.RowBytes);

    /// <summary>Recomputes the table checksum after an edit, as a forger (or a buggy writer) would.</summary>
    private static void Reseal(byte[] table)
    {
        var hash = new XxHash64();
        hash.Append(table.AsSpan(PageTableFile.HeaderBytes));
        PageTableFile.Seal(hash, table.AsSpan(0, PageTableFile.HeaderBytes));
    }

    private static void SwapRows(byte[] table, int a, int b)
    {
        var saved = Row(table, a).ToArray();
        Row(table, b).CopyTo(Row(table, a));
        saved.CopyTo(Row(table, b));
    }

    [Fact]
    public void Swapped_rows_of_same_length_pages_are_refused_naming_the_row()
    {
        using var store = SameLengthPages();
        var table = File.ReadAllBytes(TablePath(store));
        SwapRows(table, 3, 6);
        File.WriteAllBytes(TablePath(store), table);

        var ex = Assert.Throws<Vib3Exception>(() => store.Open());
        Assert.Equal(SqlState.DataCorrupted, ex.SqlState);
        Assert.Equal("model test-model's page table is corrupt: row 3 is the row of page 6 (rows swapped or overwritten)", ex.Message);
    }

    [Fact]
    public void Swapped_rows_with_their_page_ids_rewritten_fail_the_checksum()
    {
        using var store = SameLengthPages();
        long page3;
        using (var probe = store.Open()) page3 = probe.Entry(3).Address;
        var table = File.ReadAllBytes(TablePath(store));
        SwapRows(table, 3, 6);
        BinaryPrimitives.WriteInt32LittleEndian(Row(table, 3)[12..], 3);
        BinaryPrimitives.WriteInt32LittleEndian(Row(table, 6)[12..], 6);
        File.WriteAllBytes(TablePath(store), table);

        var ex = Assert.Throws<Vib3Exception>(() => store.Open());
        Assert.Equal(SqlState.DataCorrupted, ex.SqlState);
        Assert.StartsWith("model test-model's page table is corrupt: checksum mismatch", ex.Message);

        // Only the checksum stood in the way: resealed, page 6 would be read from page 3's record.
        Reseal(table);
        File.WriteAllBytes(TablePath(store), table);
        using var opened = store.Open();
        Assert.Equal(page3, opened.Entry(6).Address);
    }

    [Fact]
    public void Every_single_bit_flip_in_the_table_is_refused_with_one_line()
    {
        using var store = SameLengthPages();
        var path = TablePath(store);
        var original = File.ReadAllBytes(path);
        for (var at = 0; at < original.Length; at++)
        {
            var bit = at % 8;
            var table = (byte[])original.Clone();
            table[at] ^= (byte)(1 << bit);
            File.WriteAllBytes(path, table);
            // The table is the first thing an open reads; reading it alone keeps 264 opens fast.
            var ex = Assert.Throws<Vib3Exception>(() => PageTableFile.Read(path, "test-model"));
            Assert.DoesNotContain('\n', ex.Message);
            // The version field decides how the rest is read: a different version is another vib3's table.
            var expected = at is >= 4 and < 8 ? SqlState.FeatureNotSupported : SqlState.DataCorrupted;
            Assert.True(expected == ex.SqlState, $"byte {at} bit {bit}: {ex.SqlState} {ex.Message}");
            Assert.Contains("model test-model", ex.Message);
        }
        File.WriteAllBytes(path, original);
        using var ok = store.Open();
        Assert.Equal(Pages, ok.PageCount);
    }

    [Fact]
    public void A_version_1_table_asks_for_the_model_to_be_converted_again()
    {
        using var store = SameLengthPages();
        var table = File.ReadAllBytes(TablePath(store));
        BinaryPrimitives.WriteUInt32LittleEndian(table.AsSpan(4), 1);
        File.WriteAllBytes(TablePath(store), table);

        var ex = Assert.Throws<Vib3Exception>(() => store.Open());
        Assert.Equal(SqlState.FeatureNotSupported, ex.SqlState);
        Assert.Contains("model test-model was converted by an older vib3 (its page table is version 1; this vib3 reads version 2)", ex.Message);
        Assert.Contains("convert it again", ex.Message);
    }
}
