using System.Diagnostics;

namespace Vib3.Soak;

/// <summary>vib3-soak reliability [--cli PATH/vib3.dll] [--synth PATH/vib3-synth.dll] [--keep-going] [--cases NAME,NAME]:
/// load, SIGTERM under load, kill -9 during conversion and during serving, each against real `vib3 serve` / `vib3
/// convert` processes over a temp data directory holding the default model (<see cref="SoakSetup"/>) and a large
/// synthetic checkpoint; prints the table, exits 1 if any case failed.</summary>
internal static class ReliabilityCommand
{
    /// <summary>In the order they run: the serving case reopens the model the conversion case converted.</summary>
    public static readonly IReadOnlyList<ReliabilityCase> All = [LoadCase.Case, SigtermCase.Case, ConvertKillCase.Case, ServeKillCase.Case];

    private static readonly TimeSpan SynthDeadline = TimeSpan.FromMinutes(2);

    public static int Run(string[] args)
    {
        var keepGoing = args.Contains("--keep-going");
        var names = SoakSetup.Value(args, "--cases").Split(',', StringSplitOptions.RemoveEmptyEntries);
        var unknown = names.Except(All.Select(c => c.Name)).ToList();
        if (unknown.Count > 0)
        {
            Console.Error.WriteLine($"vib3-soak: unknown case(s) {string.Join(", ", unknown)}; cases: {string.Join(", ", All.Select(c => c.Name))}");
            return 2;
        }
        var cases = names.Length == 0 ? All : All.Where(c => names.Contains(c.Name)).ToList();
        string synth;
        try { synth = BuildLayout.Find(SoakSetup.Value(args, "--synth"), "--synth", Path.Combine("tools", "Vib3.Synth"), "vib3-synth.dll"); }
        catch (FileNotFoundException e)
        {
            Console.Error.WriteLine($"vib3-soak: {e.Message}");
            return 2;
        }
        return SoakSetup.Run(args, (cli, scratch) => RunAsync(cli, scratch, synth, cases, keepGoing));
    }

    private static async Task<int> RunAsync(VibCli cli, string scratch, string synth, IReadOnlyList<ReliabilityCase> cases, bool keepGoing)
    {
        var total = Stopwatch.StartNew();
        Console.Error.WriteLine("vib3-soak: writing the large synthetic checkpoint");
        var big = await SynthCheckpoint.WriteAsync(synth, Path.Combine(scratch, "big-checkpoint"), SynthDeadline);
        var results = new List<ReliabilityResult>();
        foreach (var c in cases)
        {
            Console.Error.WriteLine($"vib3-soak: {c.Name} …");
            var r = await RunCaseAsync(c, new ReliabilityContext(cli, scratch, big, CancellationToken.None));
            Console.Error.WriteLine($"vib3-soak: {c.Name}: {(r.Verdict.Passed ? "passed" : "FAILED")} ({r.Elapsed.TotalSeconds:0.0} s): {r.Verdict.Figures} — {r.Verdict.Detail}");
            results.Add(r);
            if (!r.Verdict.Passed && !keepGoing) break;
        }
        ReliabilityReport.Write(Console.Out, results, cases.Count - results.Count);
        Console.Out.WriteLine($"whole run {total.Elapsed.TotalSeconds:0} s (the synthetic checkpoint and the default model's install included)");
        return results.All(r => r.Verdict.Passed) ? 0 : 1;
    }

    /// <summary>Runs a case under its deadline: past it, the case's token is cancelled (its clients and servers stop)
    /// and it fails as a hang; an exception fails it with its message.</summary>
    private static async Task<ReliabilityResult> RunCaseAsync(ReliabilityCase c, ReliabilityContext ctx)
    {
        var clock = Stopwatch.StartNew();
        using var deadline = new CancellationTokenSource(c.Deadline);
        Verdict verdict;
        try
        {
            verdict = await c.RunAsync(ctx with { Cancel = deadline.Token }).WaitAsync(c.Deadline + TimeSpan.FromSeconds(10));
        }
        catch (Exception e) when (e is TimeoutException || (e is OperationCanceledException && deadline.IsCancellationRequested))
        {
            verdict = new Verdict(false, "", $"no result within {c.Deadline.TotalSeconds:0} s");
        }
        catch (Exception e)
        {
            verdict = new Verdict(false, "", $"{e.GetType().Name}: {e.Message}");
        }
        return new ReliabilityResult(c, verdict, clock.Elapsed);
    }
}
