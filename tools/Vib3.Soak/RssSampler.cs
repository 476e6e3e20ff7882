namespace Vib3.Soak;

/// <summary>Samples a server's RSS while something runs against it, keeping the peak; past the memory cap the server
/// is killed rather than allowed to take the machine down.</summary>
internal static class RssSampler
{
    public static async Task<(long Peak, bool Killed)> SampleAsync(VibServer server, CancellationToken stop)
    {
        long peak = 0;
        while (!stop.IsCancellationRequested && !server.HasExited)
        {
            var rss = server.RssBytes ?? 0;
            peak = Math.Max(peak, rss);
            if (rss > Limits.MemoryCapBytes)
            {
                ChildProcess.Kill(server.Process);
                return (peak, true);
            }
            try { await Task.Delay(Limits.SampleEvery, stop); }
            catch (OperationCanceledException) { }
        }
        return (peak, false);
    }
}
