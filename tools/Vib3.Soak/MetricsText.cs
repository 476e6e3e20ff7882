using System.Globalization;

namespace Vib3.Soak;

/// <summary>A /metrics scrape (Prometheus text format), read by series name and labels.</summary>
internal sealed class MetricsText(string text)
{
    public static async Task<MetricsText> ScrapeAsync(HttpClient http, CancellationToken ct) =>
        new(await http.GetStringAsync("metrics", ct));

    /// <summary>The sum of the series called <paramref name="name"/> whose labels include every one of
    /// <paramref name="labels"/> (written as Prometheus does: <c>endpoint="/v1/completions"</c>); null when there is no
    /// such series, so that a metric that disappeared is not read as 0.</summary>
    public double? Sum(string name, params string[] labels)
    {
        double? sum = null;
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith('#') || !line.StartsWith(name, StringComparison.Ordinal)) continue;
            var rest = line[name.Length..];
            if (rest.Length == 0 || (rest[0] != '{' && rest[0] != ' ')) continue; // another metric with this prefix
            var close = rest[0] == '{' ? rest.IndexOf('}') : -1;
            var labelText = close > 0 ? rest[..(close + 1)] : "";
            if (!labels.All(l => labelText.Contains(l, StringComparison.Ordinal))) continue;
            var value = rest[(close + 1)..].Trim().Split(' ')[0];
            sum = (sum ?? 0) + double.Parse(value, CultureInfo.InvariantCulture);
        }
        return sum;
    }
}
