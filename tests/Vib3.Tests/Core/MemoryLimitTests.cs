using Vib3.Core;

namespace Vib3.Tests.Core;

/// <summary>What the default RAM budget is a share of: the machine's memory, or the cgroup's limit when smaller (v2's
/// "max" and v1's huge number mean none).</summary>
public sealed class MemoryLimitTests
{
    private const string MemInfo = "MemTotal:       24683748 kB\nMemFree:         1000000 kB\nMemAvailable:   20000000 kB\n";

    [Theory]
    [InlineData(null, null, 24683748L * 1024, "the machine's memory")]
    [InlineData("max\n", null, 24683748L * 1024, "the machine's memory")]
    [InlineData(null, "9223372036854771712\n", 24683748L * 1024, "the machine's memory")]
    [InlineData("4294967296\n", null, 4L << 30, "its cgroup's limit")]
    [InlineData(null, "2147483648\n", 2L << 30, "its cgroup's limit")]
    [InlineData("107374182400\n", null, 24683748L * 1024, "the machine's memory")] // a limit above the machine's memory
    public void The_limit_is_the_smaller_of_the_machine_and_the_cgroup(string? v2, string? v1, long bytes, string source)
    {
        Assert.Equal((bytes, source), MemoryLimit.Of(MemInfo, v2, v1));
    }

    [Fact]
    public void Nothing_readable_is_no_limit_and_this_machine_has_one()
    {
        Assert.Null(MemoryLimit.Of(null, null, null));
        Assert.Null(MemoryLimit.Of("garbage", "max", "x"));
        if (!OperatingSystem.IsLinux()) Assert.Skip("/proc/meminfo is Linux's");
        Assert.True(MemoryLimit.Read() is { Bytes: > 1L << 26 }, "no memory limit read on Linux");
    }
}
