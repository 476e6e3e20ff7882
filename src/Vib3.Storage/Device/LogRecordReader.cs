using FASTER.core;
using Vib3.Core;
using Vib3.Storage.Memory;

namespace Vib3.Storage.Device;

/// <summary>
/// Reads one record of a finished FASTER log straight from its device into a page buffer: the sectors that cover the
/// record, in one aligned read (what O_DIRECT needs), with no copy and no allocation. FasterLog's own ReadAsync reads
/// into a pooled buffer and then copies the record into a new managed array per read: garbage the size of a page for
/// every miss, which the page cache's budget could not account for.
/// </summary>
/// <remarks>
/// A record at logical address A is a header (<see cref="HeaderBytes"/>: the payload length as an int, as FasterLog
/// writes it without per-entry checksums) followed by the payload. The log's device offset is the logical address
/// (FASTER maps address → segment A >> segment bits, offset within it), so the read spans [A rounded down to a
/// sector, A + header + length rounded up) and the payload starts at A − that start + header in the buffer.
/// </remarks>
internal sealed class LogRecordReader(IDevice device, int headerBytes)
{
    private const long Sector = DirectFileDevice.Sector;

    public int HeaderBytes { get; } = headerBytes;

    /// <summary>Reads the record at <paramref name="address"/> into <paramref name="buffer"/>; returns where in the
    /// buffer its payload starts. The caller checks the header (<see cref="StoredLength"/>) and the payload.</summary>
    /// <exception cref="Vib3Exception">58030 when the device reports an error or the read comes back short.</exception>
    public async Task<int> ReadAsync(long address, int length, PageBuffer buffer)
    {
        long start = address & ~(Sector - 1);
        long end = (address + HeaderBytes + length + Sector - 1) & ~(Sector - 1);
        if (end - start > buffer.Capacity)
            throw new ArgumentException($"a {end - start}-byte read does not fit a {buffer.Capacity}-byte buffer", nameof(buffer));
        var done = new TaskCompletionSource<uint>(TaskCreationOptions.RunContinuationsAsynchronously);
        device.ReadAsync((ulong)start, buffer.Pointer, (uint)(end - start), static (error, bytes, context) =>
        {
            var tcs = (TaskCompletionSource<uint>)context;
            if (error == 0) tcs.TrySetResult(bytes);
            else tcs.TrySetException(new Vib3Exception(SqlState.IoError, $"read failed: {LibC.Describe((int)error)}"));
        }, done);
        uint read = await done.Task.ConfigureAwait(false);
        int payload = (int)(address - start) + HeaderBytes;
        // The log's last sector may be short on disk (the file ends mid-sector); the record itself must be all there.
        if (read < payload + length)
            throw new Vib3Exception(SqlState.IoError, $"short read: {read} of {payload + length} bytes at log address {address}");
        return payload;
    }

    /// <summary>The payload length the record's header states (the header sits just before the payload).</summary>
    public unsafe int StoredLength(PageBuffer buffer, int payload) => *(int*)(buffer.Pointer + payload - HeaderBytes);
}
