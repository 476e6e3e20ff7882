using System.Buffers;
using System.Runtime.InteropServices;
using Vib3.Core;
using Vib3.Storage.Device;

namespace Vib3.Storage.Memory;

/// <summary>
/// One page's home in RAM: a block of native memory outside the .NET heap, page-aligned (so O_DIRECT reads land in it
/// directly) and a whole number of 4 KiB sectors long.
/// </summary>
/// <remarks>
/// Why native: the page cache is the bulk of the process's memory and has a hard budget. On the GC heap every evicted
/// page stayed allocated until a full collection (large objects are only collected in gen 2), so the process needed
/// hundreds of MiB above its budget, and a container's heap cap (75 % of the memory limit) refused budgets the
/// machine could hold. Here a buffer's memory is returned the moment the cache frees it, and the cache reuses buffers
/// of the same size instead of freeing them (see <see cref="FreeBuffers"/>). On Linux each buffer is its own anonymous
/// mmap, so munmap gives it straight back to the kernel (malloc may keep freed blocks in its arenas).
/// Lifetime is the cache's business: a buffer is freed or reused only once no lease holds its page.
/// </remarks>
internal sealed unsafe class PageBuffer : MemoryManager<byte>
{
    private const int ProtReadWrite = 0x1 | 0x2;      // PROT_READ | PROT_WRITE
    private const int MapPrivateAnonymous = 0x02 | 0x20; // MAP_PRIVATE | MAP_ANONYMOUS (x86_64 and arm64)
    private nint _pointer;

    private PageBuffer(nint pointer, int capacity)
    {
        _pointer = pointer;
        Capacity = capacity;
    }

    /// <summary>Bytes in the buffer; what it costs the RAM budget.</summary>
    public int Capacity { get; }

    public nint Pointer => _pointer;

    /// <summary>A fresh buffer of <paramref name="capacity"/> bytes (a multiple of <see cref="DirectFileDevice.Sector"/>).</summary>
    /// <exception cref="Vib3Exception">53200 when the operating system has no memory to give.</exception>
    public static PageBuffer Allocate(int capacity)
    {
        if (capacity <= 0 || capacity % DirectFileDevice.Sector != 0)
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "a page buffer is a positive number of sectors");
        nint p;
        if (OperatingSystem.IsLinux())
        {
            p = LibC.Mmap(0, (nuint)capacity, ProtReadWrite, MapPrivateAnonymous, -1, 0);
            if (p == -1) throw OutOfMemory(capacity, LibC.Describe(LibC.Errno));
        }
        else
        {
            try { p = (nint)NativeMemory.AlignedAlloc((nuint)capacity, DirectFileDevice.Sector); }
            catch (OutOfMemoryException e) { throw OutOfMemory(capacity, e.Message); }
        }
        return new PageBuffer(p, capacity);
    }

    private static Vib3Exception OutOfMemory(int capacity, string why) =>
        new(SqlState.OutOfMemory, $"cannot allocate a {ByteSize.Format(capacity)} page buffer: {why}");

    public override Span<byte> GetSpan()
    {
        ObjectDisposedException.ThrowIf(_pointer == 0, this);
        return new Span<byte>((void*)_pointer, Capacity);
    }

    // Native memory never moves: pinning is just the address.
    public override MemoryHandle Pin(int elementIndex = 0)
    {
        ObjectDisposedException.ThrowIf(_pointer == 0, this);
        return new MemoryHandle((byte*)_pointer + elementIndex);
    }

    public override void Unpin() { }

    /// <summary>Give the memory back to the operating system. Only the cache calls this, once no lease can see it.</summary>
    protected override void Dispose(bool disposing)
    {
        var p = Interlocked.Exchange(ref _pointer, 0);
        if (p == 0) return;
        if (OperatingSystem.IsLinux()) _ = LibC.Munmap(p, (nuint)Capacity);
        else NativeMemory.AlignedFree((void*)p);
    }
}
