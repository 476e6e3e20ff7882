namespace Vib3.Soak;

/// <summary>vib3-soak security [--cli PATH/vib3.dll] [--keep-going] [--cases NAME,NAME]: runs the hostile-input
/// battery against live servers over a data directory holding the default model (<see cref="SoakSetup"/>) and prints
/// the table.</summary>
internal static class SecurityCommand
{
    public const string ModelName = SoakSetup.ModelName;

    public static int Run(string[] args)
    {
        var keepGoing = args.Contains("--keep-going");
        var names = SoakSetup.Value(args, "--cases").Split(',', StringSplitOptions.RemoveEmptyEntries);
        var unknown = names.Except(SecurityCases.All.Select(c => c.Name)).ToList();
        if (unknown.Count > 0)
        {
            Console.Error.WriteLine($"vib3-soak: unknown case(s) {string.Join(", ", unknown)}; cases: {string.Join(", ", SecurityCases.All.Select(c => c.Name))}");
            return 2;
        }
        var cases = names.Length == 0 ? SecurityCases.All : SecurityCases.All.Where(c => names.Contains(c.Name)).ToList();
        return SoakSetup.Run(args, (cli, scratch) => RunAsync(cli, scratch, cases, keepGoing));
    }

    private static async Task<int> RunAsync(VibCli cli, string scratch, IReadOnlyList<SoakCase> cases, bool keepGoing)
    {
        var results = new List<CaseResult>();
        await using (var battery = new Battery(cli, scratch, Convert.ToHexString(Guid.NewGuid().ToByteArray())))
        {
            foreach (var c in cases)
            {
                Console.Error.WriteLine($"vib3-soak: {c.Name} …");
                var r = await battery.RunAsync(c);
                Console.Error.WriteLine($"vib3-soak: {c.Name}: {(r.Clean ? "clean" : r.Crash ? "CRASH" : r.Hang ? "HANG" : r.Memory ? "MEMORY" : "unclean")} " +
                                        $"({r.Elapsed.TotalSeconds:0.0} s): {r.Seen.Detail}");
                results.Add(r);
                if (r.Failed && !keepGoing) break;
            }
        }
        Report.Write(Console.Out, results, cases.Count - results.Count);
        return results.Any(r => r.Failed) ? 1 : 0;
    }
}
