using Vib3.Core;

namespace Vib3.Storage;

/// <summary>The page cache lives on the .NET heap, and the heap has its own ceiling: the machine's memory, or in a
/// container 75 % of the memory limit by default (DOTNET_GCHeapHardLimit / GCHeapHardLimitPercent change it). A budget
/// the heap cannot hold would end in an OutOfMemoryException halfway through a generation; it is refused up front.</summary>
public static class HeapRoom
{
    /// <summary>What the process needs on the heap beside the page cache: evicted pages not yet collected (each read
    /// allocates its page afresh), activations, KV caches, the runtime (measured: ~256 MiB on a 2.5 GB model).</summary>
    public const long Headroom = 256L << 20;

    /// <summary>Throws 53000 when <paramref name="budgetBytes"/> + <see cref="Headroom"/> exceeds
    /// <paramref name="heapBytes"/> (by default the GC's own figure for this process).</summary>
    public static void Check(long budgetBytes, long? heapBytes = null)
    {
        var heap = heapBytes ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (budgetBytes + Headroom <= heap) return;
        throw new Vib3Exception(SqlState.InsufficientResources,
            $"a RAM budget of {ByteSize.Format(budgetBytes)} does not fit the {ByteSize.Format(heap)} this process's .NET heap may use " +
            $"(with {ByteSize.Format(Headroom)} beside the page cache; in a container the heap gets 75 % of the memory limit): " +
            "lower --ram-budget, or raise the heap's limit with DOTNET_GCHeapHardLimit (bytes, hex) or DOTNET_GCHeapHardLimitPercent");
    }
}
