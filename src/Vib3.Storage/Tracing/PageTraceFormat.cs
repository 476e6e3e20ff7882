namespace Vib3.Storage.Tracing;

/// <summary>
/// The page trace file (<c>vib3 bench --trace FILE</c>): every page read of a run, so cache policies can be
/// compared offline on the same reads (<c>vib3-bench policies</c>). Binary, little-endian:
/// <code>
/// header
///   8 bytes   magic "VIB3TRC1" (format version 1)
///   string    model name (BinaryWriter's string: 7-bit-encoded byte length, then UTF-8)
///   int32     P, the model's page count
///   P × 9 bytes, page by page from page 0: the page's class and size
///     byte    kind: 0 dense (every token reads it), 1 expert bundle, 2 sparse (e.g. an untied token embedding)
///     int16   layer of an expert page, −1 otherwise
///     int16   expert of an expert page, −1 otherwise
///     int32   the page's length in bytes (what it costs the cache)
/// records, up to the end of the file, one uint32 each
///   0xFFFFFFFF          step marker: a new step (a prefill or one decoded token) starts with the next read
///   otherwise           a read: bits 0..29 the page id, bits 30..31 what the store did:
///                       0 hit (resident in RAM), 1 miss (started a disk read), 2 joined (waited for another
///                       read's disk read of the same page)
/// </code>
/// Reads are in the order the store saw them (concurrent reads in the order they took the trace's lock).
/// </summary>
public static class PageTraceFormat
{
    public static ReadOnlySpan<byte> Magic => "VIB3TRC1"u8;

    public const uint StepMarker = uint.MaxValue;

    /// <summary>Page ids must fit the record's 30 bits.</summary>
    public const int MaxPages = 1 << 30;

    internal const int OutcomeShift = 30;
    internal const uint PageMask = (1u << OutcomeShift) - 1;
}

/// <summary>What the store did for one read (a trace record's top two bits).</summary>
public enum PageReadOutcome : byte
{
    Hit = 0,
    Miss = 1,
    Joined = 2,
}
