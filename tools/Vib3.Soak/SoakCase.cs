namespace Vib3.Soak;

/// <summary>What a case saw of the input it sent, before the server itself is probed.</summary>
internal enum Outcome
{
    /// <summary>Refused with a clear error, or handled correctly.</summary>
    Clean,

    /// <summary>Survived, but with an internal error, a stack trace or silently wrong output.</summary>
    Unclean,

    /// <summary>A vib3 process died (a signal, a stack overflow).</summary>
    Crash,

    /// <summary>No answer within the case's deadline, or resources held beyond it.</summary>
    Hang,

    /// <summary>A vib3 process grew past the memory cap.</summary>
    Memory,
}

internal sealed record Seen(Outcome Outcome, string Detail)
{
    public static Seen Clean(string detail) => new(Outcome.Clean, detail);

    public static Seen Unclean(string detail) => new(Outcome.Unclean, detail);

    /// <summary>Judges a separate vib3 process (convert, query): its exit decides the outcome.</summary>
    public static Seen Of(string what, ChildResult r) => r switch
    {
        { OverMemory: true } => new(Outcome.Memory, $"{what}: killed at {ProcessMemory.Mb(r.PeakRssBytes)} MB RSS"),
        { TimedOut: true } => new(Outcome.Hang, $"{what}: no exit within {r.Elapsed.TotalSeconds:0} s"),
        { Crashed: true } => new(Outcome.Crash, $"{what}: exit {r.ExitCode}: {Text.FatalLine(r.Stderr + "\n" + r.Stdout)}"),
        { StackTrace: true } => new(Outcome.Unclean, $"{what}: exit {r.ExitCode} with a stack trace: {r.FirstErrorLine}"),
        { ExitCode: 0 } => new(Outcome.Clean, $"{what}: ok"),
        { ExitCode: 1 } => new(Outcome.Clean, $"{what}: {r.FirstErrorLine}"),
        _ => new(Outcome.Unclean, $"{what}: exit {r.ExitCode}: {r.FirstErrorLine}"),
    };
}

/// <summary>Everything a case may use: the server under test, the CLI, a scratch folder, its deadline.</summary>
internal sealed record CaseContext(VibServer Server, VibCli Cli, string Scratch, CancellationToken Cancel);

/// <summary>One hostile input of the battery.</summary>
/// <param name="Tried">What it sends, for the table.</param>
/// <param name="Deadline">The whole case's limit; past it the case is a hang.</param>
/// <param name="NeedsPassword">Runs against a server that requires a password (SASL cases).</param>
internal sealed record SoakCase(string Name, string Tried, TimeSpan Deadline, Func<CaseContext, Task<Seen>> RunAsync, bool NeedsPassword = false);
