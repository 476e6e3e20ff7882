using System.Runtime.CompilerServices;

namespace Vib3.Server.PgWire.Tests;

/// <summary>The page log's writer blocks its calling thread while FASTER flushes, and FASTER finishes flushes on
/// thread-pool threads. xunit runs test classes in parallel on that same pool, which starts with one thread per
/// core (two here), so parallel conversions starve each other until the pool grows (seconds). Starting the pool
/// wider keeps the suite fast and its timing-sensitive tests (kill -9 mid-conversion) meaningful.</summary>
internal static class ThreadPoolWarmup
{
    [ModuleInitializer]
    internal static void Widen() => ThreadPool.SetMinThreads(16, 16);
}
