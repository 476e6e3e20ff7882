using System.Runtime.InteropServices;
using Vib3.Storage.Device;

namespace Vib3.Storage.Tests;

/// <summary>Nothing thrown on an I/O worker or FASTER's thread may escape: failures reach FASTER as errno.</summary>
public class DeviceTests
{
    private const uint EBADF = 9;

    [Fact]
    public async Task ThrowingCallback_DoesNotKillTheIoWorker()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "DirectFileDevice is Linux-only");
        using var store = new TempStore().Write(count: 4, minLen: 5_000, maxLen: 5_000, seed: 71);
        using var device = OpenDevice(store);
        using var buffer = new AlignedBuffer(4096);

        var threw = new TaskCompletionSource<uint>(TaskCreationOptions.RunContinuationsAsynchronously);
        Read(device, buffer, (error, _, _) =>
        {
            threw.SetResult(error);
            throw new InvalidOperationException("callback bug");
        });
        Assert.Equal(0u, await threw.Task);

        // The single I/O thread survived and still serves reads.
        var (error, bytes) = await ReadAsync(device, buffer);
        Assert.Equal(0u, error);
        Assert.Equal(4096u, bytes);
    }

    [Fact]
    public async Task ReadAfterDispose_CompletesWithAnError_InsteadOfThrowingOnTheCaller()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "DirectFileDevice is Linux-only");
        using var store = new TempStore().Write(count: 2, minLen: 5_000, maxLen: 5_000, seed: 72);
        var device = OpenDevice(store);
        using var buffer = new AlignedBuffer(4096);
        device.Dispose();
        var (error, bytes) = await ReadAsync(device, buffer);
        Assert.Equal(EBADF, error);
        Assert.Equal(0u, bytes);
    }

    [Fact]
    public async Task WorkItemThatThrows_DoesNotKillTheWorker()
    {
        using var workers = new IoWorkers(1, "test");
        Assert.True(workers.TryEnqueue(() => throw new InvalidOperationException("bug in a work item")));
        var ran = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Assert.True(workers.TryEnqueue(ran.SetResult));
        await ran.Task;
        workers.Dispose();
        Assert.False(workers.TryEnqueue(() => { }));
    }

    private static DirectFileDevice OpenDevice(TempStore store) =>
        new(Path.Combine(store.Dir, "log", "pages.log"), readOnly: true, ioThreads: 1);

    private static unsafe void Read(DirectFileDevice device, AlignedBuffer buffer, FASTER.core.DeviceIOCompletionCallback callback) =>
        device.ReadAsync(0, 0, (IntPtr)buffer.Pointer, 4096, callback, null!);

    private static Task<(uint Error, uint Bytes)> ReadAsync(DirectFileDevice device, AlignedBuffer buffer)
    {
        var done = new TaskCompletionSource<(uint, uint)>(TaskCreationOptions.RunContinuationsAsynchronously);
        Read(device, buffer, (error, bytes, _) => done.SetResult((error, bytes)));
        return done.Task;
    }

    private sealed unsafe class AlignedBuffer(int size) : IDisposable
    {
        public void* Pointer { get; } = NativeMemory.AlignedAlloc((nuint)size, 4096);
        public void Dispose() => NativeMemory.AlignedFree(Pointer);
    }
}
