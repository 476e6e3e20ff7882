using System.Globalization;
using System.Text.RegularExpressions;

namespace Vib3.Server.Http.Tests;

/// <summary>Reads /metrics as Prometheus text, failing on any line that is not valid exposition format.</summary>
internal static partial class Metrics
{
    [GeneratedRegex("""^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$""")]
    private static partial Regex Sample();

    [GeneratedRegex("""^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$""")]
    private static partial Regex Comment();

    /// <summary>Every sample, keyed by its name and labels as written (e.g. <c>x_total{model="m"}</c>).</summary>
    public static async Task<Dictionary<string, double>> ScrapeAsync(HttpClient http)
    {
        using var response = await http.GetAsync("metrics");
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        var samples = new Dictionary<string, double>();
        foreach (var line in (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith('#'))
            {
                Assert.Matches(Comment(), line);
                continue;
            }
            var m = Sample().Match(line);
            Assert.True(m.Success, $"not a Prometheus sample: {line}");
            samples[m.Groups[1].Value + m.Groups[2].Value] = double.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture);
        }
        return samples;
    }

    /// <summary>The value of series <paramref name="key"/>; a series that is not exported fails the test (a metric
    /// that disappeared must not read as 0).</summary>
    public static double Get(Dictionary<string, double> samples, string key) =>
        samples.TryGetValue(key, out var value) ? value : throw new Xunit.Sdk.XunitException($"/metrics has no series {key}");

    /// <summary>The value of <paramref name="key"/> in a scrape taken before a request: a labelled series appears only
    /// once something was counted under its labels, so one not exported yet counts 0.</summary>
    public static double Baseline(Dictionary<string, double> samples, string key) => samples.GetValueOrDefault(key);
}
