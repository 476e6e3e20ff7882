using System.Buffers.Binary;
using System.IO.Hashing;

namespace Vib3.Storage.Catalog;

/// <summary>The index files' common frame: a fixed header, a body, and the XxHash64 (seed 0) of every byte before it
/// in the last 8 bytes; written whole and fsynced (the caller publishes the folder with one rename).</summary>
internal static class SealedFile
{
    /// <summary>Seals <paramref name="bytes"/> (its last 8 bytes get the checksum) and writes it as a new file, flushed to disk.</summary>
    public static void Write(string path, byte[] bytes)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(bytes.Length - 8), XxHash64.HashToUInt64(bytes.AsSpan(0, bytes.Length - 8)));
        using var fs = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None);
        fs.Write(bytes);
        fs.Flush(flushToDisk: true);
    }

    /// <summary>Whether the last 8 bytes are the checksum of the rest.</summary>
    public static bool Intact(ReadOnlySpan<byte> bytes) =>
        XxHash64.HashToUInt64(bytes[..^8]) == BinaryPrimitives.ReadUInt64LittleEndian(bytes[^8..]);

    /// <summary>Reads the header into <paramref name="header"/>; false when the file is shorter than header and checksum.</summary>
    public static bool TryReadHeader(string path, Span<byte> header)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        return fs.Length >= header.Length + 8 && fs.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) >= header.Length;
    }
}
