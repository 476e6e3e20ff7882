namespace Vib3.Storage;

/// <summary>
/// One row of the page table: where a page's bytes live in the FASTER log and what they hash to.
/// </summary>
/// <param name="Address">FASTER logical address of the log record holding the page.</param>
/// <param name="Length">Page length in bytes (the record payload, without FASTER's header).</param>
/// <param name="Checksum">XxHash64 (seed 0) of the page bytes; verified on every read from disk.</param>
/// <remarks>
/// On disk (pages.tbl, little-endian, 24 bytes per row; see <see cref="PageTableFile"/>):
/// <code>
/// offset 0  i64 address
/// offset 8  i32 length
/// offset 12 i32 page (the row's own index, so rows cannot trade places unnoticed)
/// offset 16 u64 checksum
/// </code>
/// </remarks>
public readonly record struct PageEntry(long Address, int Length, ulong Checksum);
