using System.Diagnostics;

namespace Vib3.LlamaCpp;

/// <summary>This process's CPU time (every thread, user and system). On a machine shared with builds a benchmark's
/// wall time measures the load as much as the engine; with one compute thread (no spinning workers) the CPU seconds
/// a run took are what it would take alone, so rates per CPU-second compare engines whatever else runs.</summary>
public static class CpuClock
{
    public static double Seconds()
    {
        using var self = Process.GetCurrentProcess();
        return self.TotalProcessorTime.TotalSeconds;
    }
}
