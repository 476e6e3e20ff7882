using System.Diagnostics;

namespace Vib3.Bench;

/// <summary>Samples this process's resident set every 20 ms and keeps the peak above where it started,
/// to show that conversion memory stays bounded whatever the model's size.</summary>
internal sealed class PeakRss : IDisposable
{
    private readonly long _start = Environment.WorkingSet;
    private readonly Timer _timer;
    private long _peak;

    public PeakRss()
    {
        _peak = _start;
        _timer = new Timer(_ => Sample(), null, 0, 20);
    }

    public long PeakAboveStartBytes
    {
        get
        {
            Sample();
            return Interlocked.Read(ref _peak) - _start;
        }
    }

    private void Sample()
    {
        using var self = Process.GetCurrentProcess();
        var now = self.WorkingSet64;
        long seen;
        while (now > (seen = Interlocked.Read(ref _peak)) && Interlocked.CompareExchange(ref _peak, now, seen) != seen) { }
    }

    public void Dispose() => _timer.Dispose();
}
