using System.Buffers.Binary;
using Vib3.Core;

namespace Vib3.Storage;

/// <summary>
/// Reads and writes pages.tbl, the index from page number to <see cref="PageEntry"/>.
/// </summary>
/// <remarks>
/// Layout (little-endian):
/// <code>
/// header, 16 bytes: u8[4] magic "V3PT" | u32 version = 1 | u64 count
/// rows, 24 bytes each, count of them: i64 address | i32 length | i32 reserved = 0 | u64 checksum
/// </code>
/// The file length must be exactly 16 + 24 * count, which catches truncation and most garbage.
/// </remarks>
internal static class PageTableFile
{
    public const string FileName = "pages.tbl";
    public const int HeaderBytes = 16;
    public const int RowBytes = 24;
    public const uint Version = 1;
    private static ReadOnlySpan<byte> Magic => "V3PT"u8;

    public static void WriteHeader(Span<byte> dst, long count)
    {
        Magic.CopyTo(dst);
        BinaryPrimitives.WriteUInt32LittleEndian(dst[4..], Version);
        BinaryPrimitives.WriteInt64LittleEndian(dst[8..], count);
    }

    public static void WriteRow(Span<byte> dst, in PageEntry e)
    {
        BinaryPrimitives.WriteInt64LittleEndian(dst, e.Address);
        BinaryPrimitives.WriteInt32LittleEndian(dst[8..], e.Length);
        BinaryPrimitives.WriteInt32LittleEndian(dst[12..], 0);
        BinaryPrimitives.WriteUInt64LittleEndian(dst[16..], e.Checksum);
    }

    /// <summary>Load and validate the whole table; every error names the file.</summary>
    public static PageEntry[] Read(string path)
    {
        if (!File.Exists(path))
            throw new Vib3Exception(SqlState.IoError, $"page table {path} not found (store missing or not completed)");
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        long fileLength = fs.Length;
        Span<byte> header = stackalloc byte[HeaderBytes];
        if (fileLength < HeaderBytes || fs.ReadAtLeast(header, HeaderBytes, throwOnEndOfStream: false) < HeaderBytes)
            throw Corrupt(path, $"file is {fileLength} bytes, shorter than the {HeaderBytes}-byte header");
        if (!header[..4].SequenceEqual(Magic))
            throw Corrupt(path, $"bad magic 0x{Convert.ToHexString(header[..4])} (expected \"V3PT\")");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
        if (version != Version)
            throw Corrupt(path, $"unsupported version {version} (expected {Version})");
        ulong count = BinaryPrimitives.ReadUInt64LittleEndian(header[8..]);
        if (count > int.MaxValue || HeaderBytes + (long)count * RowBytes != fileLength)
            throw Corrupt(path, $"header says {count} pages ({HeaderBytes} + {count} x {RowBytes} bytes) but the file is {fileLength} bytes");

        var entries = new PageEntry[(int)count];
        var buf = new byte[RowBytes * 4096];
        int done = 0;
        while (done < entries.Length)
        {
            int rows = Math.Min(4096, entries.Length - done);
            var chunk = buf.AsSpan(0, rows * RowBytes);
            fs.ReadExactly(chunk);
            for (int i = 0; i < rows; i++)
            {
                var row = chunk.Slice(i * RowBytes, RowBytes);
                long address = BinaryPrimitives.ReadInt64LittleEndian(row);
                int length = BinaryPrimitives.ReadInt32LittleEndian(row[8..]);
                int reserved = BinaryPrimitives.ReadInt32LittleEndian(row[12..]);
                if (address <= 0 || length < 0 || reserved != 0)
                    throw Corrupt(path, $"row {done + i} is invalid (address {address}, length {length}, reserved {reserved})");
                entries[done + i] = new PageEntry(address, length, BinaryPrimitives.ReadUInt64LittleEndian(row[16..]));
            }
            done += rows;
        }
        return entries;
    }

    private static Vib3Exception Corrupt(string path, string why) =>
        new(SqlState.DataCorrupted, $"page table {path} is corrupt: {why}");
}
