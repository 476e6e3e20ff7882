using Vib3.Core;

namespace Vib3.Storage.Tests;

public sealed class HeapRoomTests
{
    [Fact]
    public void A_budget_the_heap_cannot_hold_beside_its_headroom_is_refused_up_front()
    {
        HeapRoom.Check(1L << 30, heapBytes: (1L << 30) + HeapRoom.Headroom); // exactly fits
        var e = Assert.Throws<Vib3Exception>(() => HeapRoom.Check(1L << 30, heapBytes: 1L << 30));
        Assert.Equal(SqlState.InsufficientResources, e.SqlState);
        Assert.Contains("--ram-budget", e.Message);
        Assert.Contains("DOTNET_GCHeapHardLimit", e.Message);
        HeapRoom.Check(64L << 20); // this process's own heap holds a test-sized budget
    }
}
