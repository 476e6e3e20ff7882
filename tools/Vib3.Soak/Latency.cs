using System.Globalization;

namespace Vib3.Soak;

/// <summary>Percentiles of request latencies (nearest rank), in milliseconds for the table.</summary>
internal static class Latency
{
    public static TimeSpan Percentile(IReadOnlyCollection<TimeSpan> values, double p)
    {
        if (values.Count == 0) return TimeSpan.Zero;
        var sorted = values.Order().ToArray();
        var rank = (int)Math.Ceiling(p / 100 * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }

    /// <summary>"p50 12 ms, p99 340 ms".</summary>
    public static string Describe(IReadOnlyCollection<TimeSpan> values) => string.Create(CultureInfo.InvariantCulture,
        $"p50 {Percentile(values, 50).TotalMilliseconds:0} ms, p99 {Percentile(values, 99).TotalMilliseconds:0} ms");
}
