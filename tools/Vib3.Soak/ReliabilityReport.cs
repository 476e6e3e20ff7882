using System.Globalization;

namespace Vib3.Soak;

/// <summary>The reliability soak's Markdown table and summary line (what docs/reliability.md shows).</summary>
internal static class ReliabilityReport
{
    public static void Write(TextWriter o, IReadOnlyList<ReliabilityResult> results, int skipped)
    {
        o.WriteLine("| case | tried | passed | measured | seconds | seen |");
        o.WriteLine("|---|---|---|---|---|---|");
        foreach (var r in results)
            o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Case.Name} | {Text.Clip(r.Case.Tried, 160)} | {(r.Verdict.Passed ? "yes" : "NO")} | {Text.Clip(r.Verdict.Figures, 400)} | " +
                $"{r.Elapsed.TotalSeconds:0.0} | {Text.Clip(r.Verdict.Detail, 300)} |"));
        o.WriteLine();
        o.WriteLine($"{results.Count} cases run: {results.Count(r => r.Verdict.Passed)} passed, {results.Count(r => !r.Verdict.Passed)} failed" +
                    (skipped > 0 ? $", {skipped} not run (stopped at the first failure; --keep-going runs all)" : ""));
    }
}
