using System.Globalization;

namespace Vib3.Soak;

/// <summary>The battery's Markdown table and summary line (what docs/security.md shows).</summary>
internal static class Report
{
    public static void Write(TextWriter o, IReadOnlyList<CaseResult> results, int skipped)
    {
        o.WriteLine("| case | tried | clean | crash | hang | RSS before → after (peak) MB | seconds | seen |");
        o.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (var r in results)
            o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Case.Name} | {Text.Clip(r.Case.Tried, 90)} | {Mark(r.Clean)} | {Mark(r.Crash)} | {Mark(r.Hang)} | " +
                $"{ProcessMemory.Mb(r.RssBefore)} → {ProcessMemory.Mb(r.RssAfter)} ({ProcessMemory.Mb(r.PeakRss)}){(r.Memory ? " unbounded" : "")} | " +
                $"{r.Elapsed.TotalSeconds:0.0} | {Text.Clip(r.Seen.Detail)} |"));
        o.WriteLine();
        o.WriteLine($"{results.Count} cases tried: {results.Count(r => r.Clean)} clean, {results.Count(r => r.Crash)} crashes, " +
                    $"{results.Count(r => r.Hang)} hangs, {results.Count(r => r.Memory)} unbounded memory, " +
                    $"{results.Count(r => !r.Clean && !r.Failed)} unclean errors{(skipped > 0 ? $", {skipped} not run (stopped at the first failure; --keep-going runs all)" : "")}");
    }

    private static string Mark(bool yes) => yes ? "yes" : "";
}
