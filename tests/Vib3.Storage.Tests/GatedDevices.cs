using FASTER.core;

namespace Vib3.Storage.Tests;

/// <summary>The production devices (<see cref="StoreDevices.Default"/>), wrapped so that a test can hold the first
/// disk read that covers a chosen log address until it releases it: the read is then under way as far as the store
/// is concerned (it holds its RAM and a disk slot) but has not reached the disk.</summary>
internal sealed class GatedDevices : IStoreDevices
{
    private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _heldAddress = -1;

    /// <summary>Completes when the held read arrives at the device.</summary>
    public Task Reached => _reached.Task;

    /// <summary>Hold the next read whose range covers <paramref name="address"/> (a page's log address).</summary>
    public void Hold(long address) => Volatile.Write(ref _heldAddress, address);

    /// <summary>Let the held read (and any that arrives later) go to the disk.</summary>
    public void Release() => _released.TrySetResult();

    public IDevice Open(string logDir, bool direct, bool readOnly, int ioThreads) =>
        new GatedDevice(StoreDevices.Default.Open(logDir, direct, readOnly, ioThreads), this);

    /// <summary>Takes the hold if this read covers the held address (once).</summary>
    private bool TakeHold(ulong start, uint length)
    {
        long held = Volatile.Read(ref _heldAddress);
        if (held < 0 || (ulong)held < start || (ulong)held >= start + length) return false;
        if (Interlocked.CompareExchange(ref _heldAddress, -1, held) != held) return false;
        _reached.TrySetResult();
        return true;
    }

    /// <summary>Forwards everything to the real device; address-level reads (what the store's page reads use) may
    /// wait for <see cref="Release"/> first.</summary>
    private sealed class GatedDevice(IDevice inner, GatedDevices gate) : IDevice
    {
        public void ReadAsync(ulong alignedSourceAddress, IntPtr alignedDestinationAddress, uint aligned_read_length,
            DeviceIOCompletionCallback callback, object context)
        {
            if (!gate.TakeHold(alignedSourceAddress, aligned_read_length))
            {
                inner.ReadAsync(alignedSourceAddress, alignedDestinationAddress, aligned_read_length, callback, context);
                return;
            }
            gate._released.Task.ContinueWith(_ => inner.ReadAsync(alignedSourceAddress, alignedDestinationAddress,
                aligned_read_length, callback, context), TaskScheduler.Default);
        }

        public uint SectorSize => inner.SectorSize;
        public string FileName => inner.FileName;
        public long Capacity => inner.Capacity;
        public long SegmentSize => inner.SegmentSize;
        public int StartSegment => inner.StartSegment;
        public int EndSegment => inner.EndSegment;
        public int ThrottleLimit { get => inner.ThrottleLimit; set => inner.ThrottleLimit = value; }
        public void Initialize(long segmentSize, LightEpoch epoch = null!, bool omitSegmentIdFromFilename = false) =>
            inner.Initialize(segmentSize, epoch, omitSegmentIdFromFilename);
        public bool TryComplete() => inner.TryComplete();
        public bool Throttle() => inner.Throttle();
        public void WriteAsync(IntPtr sourceAddress, int segmentId, ulong destinationAddress, uint numBytesToWrite,
            DeviceIOCompletionCallback callback, object context) =>
            inner.WriteAsync(sourceAddress, segmentId, destinationAddress, numBytesToWrite, callback, context);
        public void ReadAsync(int segmentId, ulong sourceAddress, IntPtr destinationAddress, uint readLength,
            DeviceIOCompletionCallback callback, object context) =>
            inner.ReadAsync(segmentId, sourceAddress, destinationAddress, readLength, callback, context);
        public void WriteAsync(IntPtr alignedSourceAddress, ulong alignedDestinationAddress, uint numBytesToWrite,
            DeviceIOCompletionCallback callback, object context) =>
            inner.WriteAsync(alignedSourceAddress, alignedDestinationAddress, numBytesToWrite, callback, context);
        public void TruncateUntilAddressAsync(long toAddress, AsyncCallback callback, IAsyncResult result) =>
            inner.TruncateUntilAddressAsync(toAddress, callback, result);
        public void TruncateUntilAddress(long toAddress) => inner.TruncateUntilAddress(toAddress);
        public void TruncateUntilSegmentAsync(int toSegment, AsyncCallback callback, IAsyncResult result) =>
            inner.TruncateUntilSegmentAsync(toSegment, callback, result);
        public void TruncateUntilSegment(int toSegment) => inner.TruncateUntilSegment(toSegment);
        public void RemoveSegmentAsync(int segment, AsyncCallback callback, IAsyncResult result) =>
            inner.RemoveSegmentAsync(segment, callback, result);
        public void RemoveSegment(int segment) => inner.RemoveSegment(segment);
        public long GetFileSize(int segment) => inner.GetFileSize(segment);
        public void Reset() => inner.Reset();
        public void Dispose() => inner.Dispose();
    }
}
