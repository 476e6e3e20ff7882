using System.Buffers.Binary;
using System.IO.Hashing;
using Vib3.Core;

namespace Vib3.Storage;

/// <summary>
/// Reads and writes pages.tbl, the index from page number to <see cref="PageEntry"/>.
/// </summary>
/// <remarks>
/// Layout (little-endian):
/// <code>
/// header, 24 bytes: u8[4] magic "V3PT" | u32 version = 2 | u64 count | u64 table checksum
/// rows, 24 bytes each, count of them: i64 address | i32 length | i32 page | u64 page checksum
/// </code>
/// The file length must be exactly 24 + 24 * count, which catches truncation. Each row names its own page, so rows
/// that trade places are caught even when they are the same length; the table checksum, XxHash64 (seed 0) of all
/// rows followed by the header's first 16 bytes, catches any other change to the table. Rows stream to disk as
/// pages are written, so the checksum is carried along (<see cref="Seal"/>) rather than computed over a finished file.
/// Version 1 (no page ids, no checksum) was written by vib3 before store format 2; such stores are converted again.
/// </remarks>
internal static class PageTableFile
{
    public const string FileName = "pages.tbl";
    public const int HeaderBytes = 24;
    public const int RowBytes = 24;
    public const uint Version = 2;
    private const int SealedHeaderBytes = 16;
    private const int RowsPerRead = 4096;
    private static ReadOnlySpan<byte> Magic => "V3PT"u8;

    /// <summary>The header with its checksum still zero; <see cref="Seal"/> fills it in.</summary>
    public static void WriteHeader(Span<byte> dst, long count)
    {
        Magic.CopyTo(dst);
        BinaryPrimitives.WriteUInt32LittleEndian(dst[4..], Version);
        BinaryPrimitives.WriteInt64LittleEndian(dst[8..], count);
        BinaryPrimitives.WriteUInt64LittleEndian(dst[16..], 0);
    }

    public static void WriteRow(Span<byte> dst, int page, in PageEntry e)
    {
        BinaryPrimitives.WriteInt64LittleEndian(dst, e.Address);
        BinaryPrimitives.WriteInt32LittleEndian(dst[8..], e.Length);
        BinaryPrimitives.WriteInt32LittleEndian(dst[12..], page);
        BinaryPrimitives.WriteUInt64LittleEndian(dst[16..], e.Checksum);
    }

    /// <summary>Completes the table checksum: <paramref name="rows"/> has hashed every row written; the header's
    /// count and version go in last and the digest is written into the header.</summary>
    public static void Seal(XxHash64 rows, Span<byte> header)
    {
        rows.Append(header[..SealedHeaderBytes]);
        BinaryPrimitives.WriteUInt64LittleEndian(header[SealedHeaderBytes..], rows.GetCurrentHashAsUInt64());
    }

    /// <summary>Load and validate the whole table of model <paramref name="model"/>; every error names the model.</summary>
    public static PageEntry[] Read(string path, string model)
    {
        if (!File.Exists(path))
            throw new Vib3Exception(SqlState.IoError, $"page table {path} not found (store missing or not completed)");
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        long fileLength = fs.Length;
        Span<byte> header = stackalloc byte[HeaderBytes];
        int got = fs.ReadAtLeast(header, HeaderBytes, throwOnEndOfStream: false);
        if (got >= 8 && header[..4].SequenceEqual(Magic))
        {
            uint version = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
            if (version != Version)
                throw StoreFormat.Unreadable(model, $"its page table is version {version}; this vib3 reads version {Version}", version < Version);
        }
        if (got < HeaderBytes)
            throw Corrupt(model, $"the file is {fileLength} bytes, shorter than the {HeaderBytes}-byte header");
        if (!header[..4].SequenceEqual(Magic))
            throw Corrupt(model, $"bad magic 0x{Convert.ToHexString(header[..4])} (expected \"V3PT\")");
        ulong count = BinaryPrimitives.ReadUInt64LittleEndian(header[8..]);
        if (count > int.MaxValue || HeaderBytes + (long)count * RowBytes != fileLength)
            throw Corrupt(model, $"the header says {count} pages ({HeaderBytes} + {count} x {RowBytes} bytes) but the file is {fileLength} bytes");

        var entries = new PageEntry[(int)count];
        var hash = new XxHash64();
        var buf = new byte[RowBytes * RowsPerRead];
        int done = 0;
        while (done < entries.Length)
        {
            int rows = Math.Min(RowsPerRead, entries.Length - done);
            var chunk = buf.AsSpan(0, rows * RowBytes);
            fs.ReadExactly(chunk);
            hash.Append(chunk);
            for (int i = 0; i < rows; i++)
            {
                var row = chunk.Slice(i * RowBytes, RowBytes);
                long address = BinaryPrimitives.ReadInt64LittleEndian(row);
                int length = BinaryPrimitives.ReadInt32LittleEndian(row[8..]);
                int page = BinaryPrimitives.ReadInt32LittleEndian(row[12..]);
                if (page != done + i)
                    throw Corrupt(model, $"row {done + i} is the row of page {page} (rows swapped or overwritten)");
                if (address <= 0 || length < 0)
                    throw Corrupt(model, $"row {done + i} is invalid (address {address}, length {length})");
                entries[done + i] = new PageEntry(address, length, BinaryPrimitives.ReadUInt64LittleEndian(row[16..]));
            }
            done += rows;
        }
        hash.Append(header[..SealedHeaderBytes]);
        ulong expected = BinaryPrimitives.ReadUInt64LittleEndian(header[SealedHeaderBytes..]);
        if (hash.GetCurrentHashAsUInt64() != expected)
            throw Corrupt(model, $"checksum mismatch (the table hashes to {hash.GetCurrentHashAsUInt64():x16}, its header says {expected:x16})");
        return entries;
    }

    public static Vib3Exception Corrupt(string model, string why) =>
        new(SqlState.DataCorrupted, $"model {model}'s page table is corrupt: {why}");
}
