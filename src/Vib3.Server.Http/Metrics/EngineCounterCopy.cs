using Prometheus;

namespace Vib3.Server.Http.Metrics;

/// <summary>Copies the engine's cumulative counters (which restart at 0 when a model is opened again: DROP MODEL and
/// CREATE MODEL, or a close and reopen) into Prometheus counters that only ever rise. Each series remembers the
/// model instance and value it last copied and adds the difference; under a new instance the whole value is new.
/// (Counter.IncTo, used before, froze a series after a reopen until the new counts passed the old ones.)</summary>
internal sealed class EngineCounterCopy
{
    private readonly Dictionary<Counter.Child, (long Instance, double Copied)> _copied = new();
    private readonly Lock _gate = new();

    /// <summary>Brings <paramref name="series"/> up by what <paramref name="value"/> (a count of model instance
    /// <paramref name="instance"/>) gained since the last copy.</summary>
    public void Copy(Counter.Child series, long instance, double value)
    {
        lock (_gate)
        {
            var copied = _copied.TryGetValue(series, out var last) && last.Instance == instance ? last.Copied : 0;
            if (value > copied) series.Inc(value - copied);
            _copied[series] = (instance, Math.Max(copied, value));
        }
    }
}
