namespace Vib3.Soak;

/// <summary>What a reliability case measured and whether vib3 held up.</summary>
/// <param name="Figures">The measurements, for the table (counts, latencies, RSS, times).</param>
/// <param name="Detail">What went wrong, or what was seen when nothing did.</param>
internal sealed record Verdict(bool Passed, string Figures, string Detail)
{
    /// <summary>Passed when <paramref name="problems"/> is empty, else failed naming them.</summary>
    public static Verdict Of(string figures, IReadOnlyCollection<string> problems, string seen) =>
        new(problems.Count == 0, figures, problems.Count == 0 ? seen : string.Join("; ", problems));
}

/// <summary>Everything a reliability case may use: the CLI and its data directory (holding the default model), a
/// scratch folder, the large synthetic checkpoint, and the case's deadline. A case starts and stops its own servers.</summary>
internal sealed record ReliabilityContext(VibCli Cli, string Scratch, SynthCheckpoint Big, CancellationToken Cancel);

/// <summary>One scenario of the reliability soak.</summary>
/// <param name="Tried">What it does, for the table.</param>
/// <param name="Deadline">The whole case's limit; past it the case fails as a hang.</param>
internal sealed record ReliabilityCase(string Name, string Tried, TimeSpan Deadline, Func<ReliabilityContext, Task<Verdict>> RunAsync);

/// <summary>A case's row: its verdict and how long it took.</summary>
internal sealed record ReliabilityResult(ReliabilityCase Case, Verdict Verdict, TimeSpan Elapsed);
